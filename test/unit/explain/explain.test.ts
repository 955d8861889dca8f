/** explain on fixtures: the words, the JSON, the `--from` answers, and agreement between policy and rules. */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { explain, parseFrom, renderText, type Explanation, type ExplainInput, type HostAddress, type LineView } from '../../../src/explain/index.js';
import { ifaceMatches, inCidr } from '../../../src/trace/index.js';
import { container, inventory, network, policy, tcp, udp } from '../../helpers/fixtures.js';
import { goldenCases } from '../trace/golden.js';

const HOST: HostAddress[] = [
  { iface: 'lo', address: '127.0.0.1', cidr: '127.0.0.1/8' },
  { iface: 'ext0', address: '198.51.100.1', cidr: '198.51.100.1/24' },
  { iface: 'int0', address: '203.0.113.1', cidr: '203.0.113.1/24' },
  { iface: 'docker0', address: '172.17.0.1', cidr: '172.17.0.1/16' },
];

const basic = goldenCases().find((c) => c.name === '01-basic')!;

function ask(container: string, from?: string, input: Partial<ExplainInput> = {}): Explanation {
  return explain({ inventory: basic.inventory, policy: basic.policy, host: HOST, container, ...(from ? { from: parseFrom(from) } : {}), ...input });
}

describe('explain', () => {
  it('says who may reach each binding, which rule decides, and which chains do it', () => {
    expect(renderText(ask('web'))).toMatchInlineSnapshot(`
      "web (id aaaa00000000, image nginx:1.27, network bridge 172.17.0.2)
      policy: policy.yaml
      chains (ipv4): published: mangle, nat, filter DOCKWARD-C-B770C6F9B11A8D89

      443/tcp on every host address → web:443: allowed from zone:external (ext0) and 192.0.2.10 by rules[0] public-https; everyone else: deny (defaults.published)
        the host itself (not governed by rules): allow by the host exemption (no host.toContainers rule decides: the host reaches containers, as with Docker)
        other sources (the policy's rules), first match wins:
          zone:external (ext0)  allow  rules[0] public-https
          192.0.2.10            allow  rules[0] public-https
          everyone else         deny   defaults.published

      10443/tcp on every host address → web:443: everyone: deny (defaults.published)
        the host itself (not governed by rules): allow by the host exemption (no host.toContainers rule decides: the host reaches containers, as with Docker)
        other sources (the policy's rules), first match wins:
          everyone  deny  defaults.published

      5353/udp on 198.51.100.1 → web:53: everyone: allow by rules[2]
        the host itself (not governed by rules): allow by the host exemption (no host.toContainers rule decides: the host reaches containers, as with Docker)
        other sources (the policy's rules), first match wins:
          everyone  allow  rules[2]

      outbound from 172.17.0.2 (network bridge), first match wins:
          anywhere else, other ports                 allow  defaults.outbound
          the host itself (172.17.0.1), other ports  allow  defaults.outbound

      direct from other containers to 172.17.0.2, first match wins:
          api, db: any port: deny by isolation between networks

      direct from 172.17.0.2 to other containers, first match wins:
          api, db: any port: deny by isolation between networks

      from the host itself straight to 172.17.0.2, first match wins:
          any port  allow  the host exemption (no host.toContainers rule decides: the host reaches containers, as with Docker)
      "
    `);
  });
});

/** What the policy's access list says for a source: the first line covering it. */
function firstLine(lines: readonly LineView[], address: string, iface: string): LineView | undefined {
  return lines.find((l) => (l.cidr === undefined || inCidr(address, l.cidr)) && (l.iface === undefined || ifaceMatches(l.iface, iface)));
}

describe('explain --from', () => {
  it('answers per binding from the traced rules: verdict, deciding rule, translation', () => {
    const e = ask('web', '198.51.100.2@ext0');
    const answers = e.bindings.map((b) => {
      const { path: _path, notTraced: _operators, ...answer } = b.answer!;
      return answer;
    });
    expect(answers).toMatchInlineSnapshot(`
      [
        {
          "allowed": true,
          "decidedBy": {
            "index": 0,
            "kind": "rule",
            "name": "public-https",
            "place": "rules[0]",
            "section": "rules",
          },
          "deliveredTo": {
            "address": "172.17.0.2",
            "container": "web",
            "port": 443,
          },
          "destination": "198.51.100.1",
          "iface": "ext0",
          "port": 443,
          "source": "198.51.100.2",
          "verdict": "delivered",
        },
        {
          "allowed": false,
          "decidedBy": {
            "kind": "default",
            "setting": "defaults.published",
          },
          "destination": "198.51.100.1",
          "iface": "ext0",
          "port": 10443,
          "source": "198.51.100.2",
          "verdict": "dropped",
        },
        {
          "allowed": true,
          "decidedBy": {
            "index": 2,
            "kind": "rule",
            "place": "rules[2]",
            "section": "rules",
          },
          "deliveredTo": {
            "address": "172.17.0.2",
            "container": "web",
            "port": 53,
          },
          "destination": "198.51.100.1",
          "iface": "ext0",
          "port": 5353,
          "source": "198.51.100.2",
          "verdict": "delivered",
        },
      ]
    `);
    expect(e.from).toEqual({ address: '198.51.100.2', family: 'ipv4', iface: 'ext0', how: 'given' });
    expect(e.bindings[0]?.answer?.notTraced).toEqual(['filter/DOCKER-USER']);
  });

  it('prints the answer with the policy rules it met in each table', () => {
    const text = renderText(ask('api', '198.51.100.7'));
    const lines = text.split('\n').filter((l) => l.startsWith('  from ') || l.includes('(rules[') || l.includes('operator'));
    expect(lines).toMatchInlineSnapshot(`
      [
        "  from 198.51.100.7 on ext0 to 198.51.100.1:8443: refused: rejected with tcp-reset by rules[1]",
        "      mangle DOCKWARD-C-A2ECD841E2EED089 #0: -s 198.51.100.0/24 -p tcp -m tcp --dport 8443 -g DOCKWARD-REJECT-MARK  (rules[1])",
        "      nat    DOCKWARD-C-A2ECD841E2EED089 #1: -s 198.51.100.0/24 -p tcp -m tcp --dport 8443 -j DNAT --to-destination 172.18.0.2:8443  (rules[1])",
        "      filter DOCKWARD-C-A2ECD841E2EED089 #0: -s 198.51.100.0/24 -d 172.18.0.2/32 -p tcp -m conntrack --ctstate DNAT --ctorigdstport 8443 -m tcp --dport 8443 -j REJECT --reject-with tcp-reset  (rules[1])",
        "      (filter/DOCKER-USER is the operator's chain: its rules, if any, are not part of this answer)",
      ]
    `);
  });

  it('works out the inbound interface: a host address is the host, a container network its bridge, a link its interface', () => {
    expect(ask('web', '203.0.113.1').from).toMatchObject({ iface: 'host', how: 'host address' });
    expect(ask('web', '172.18.0.9').from).toMatchObject({ iface: 'br-222222222222', how: 'container network' });
    expect(ask('web', '203.0.113.7').from).toMatchObject({ iface: 'int0', how: 'connected subnet' });
    const far = ask('web', '192.0.2.10');
    expect(far.from).toMatchObject({ how: 'unknown' });
    expect(far.warnings).toEqual([expect.stringContaining('give --from 192.0.2.10@INTERFACE')]);
    expect(far.bindings[0]?.answer).toMatchObject({ iface: null, allowed: true, decidedBy: { kind: 'rule', index: 0 } });
  });

  it('the host itself always reaches a published port, and dials the address of the binding', () => {
    const e = ask('web', 'host');
    expect(e.bindings.map((b) => [b.answer?.destination, b.answer?.allowed, b.answer?.decidedBy?.kind])).toEqual([
      ['198.51.100.1', true, 'host'], ['198.51.100.1', true, 'host'], ['198.51.100.1', true, 'host'],
    ]);
  });

  it('agrees with the policy’s first matching line for every source on every link', () => {
    const sources = ['198.51.100.2', '198.51.100.200', '192.0.2.10', '192.0.2.11', '203.0.113.5', '172.18.0.9'];
    const links = ['ext0', 'int0', 'eth7', 'br-222222222222'];
    for (const name of ['web', 'api']) {
      for (const address of sources) {
        for (const link of links) {
          for (const b of ask(name, `${address}@${link}`).bindings) {
            expect(b.answer?.allowed, `${name} ${b.hostPort} from ${address}@${link}`).toBe(firstLine(b.lines, address, link)?.action === 'allow');
          }
        }
      }
    }
  });
});

describe('explain finds the container and says when it publishes nothing', () => {
  it('by name, with or without the leading slash, or by id prefix', () => {
    expect(ask('/api').container.name).toBe('api');
    expect(ask('bbbb0').container.name).toBe('api');
  });

  it('refuses an unknown name with exit code 2, naming close ones', () => {
    expect(() => ask('wbe')).toThrow(InputError);
    expect(() => ask('wbe')).toThrow('no running container is named "wbe" or has an id starting with it; close names: web');
  });

  it('refuses an ambiguous id prefix, listing the candidates', () => {
    const a = container(1, network(1), [], { id: 'ab'.padEnd(64, '1'), name: 'a' });
    const b = container(2, network(1), [], { id: 'ab'.padEnd(64, '2'), name: 'b' });
    expect(() => ask('ab', undefined, { inventory: inventory([network(1)], [a, b]) })).toThrow('id prefix "ab" is ambiguous: a (ab1111111111), b (ab2222222222)');
  });

  it('host, none and container: network modes publish nothing of their own', () => {
    const net = network(1);
    const web = container(1, net, [tcp(80)], { name: 'web' });
    const others = [
      container(2, net, [], { name: 'h', networkMode: 'host', endpoints: [] }),
      container(3, net, [], { name: 'n', networkMode: 'none', endpoints: [] }),
      container(4, net, [], { name: 'side', networkMode: `container:${web.id}`, endpoints: [] }),
      container(5, net, [], { name: 'quiet' }),
    ];
    const inv = inventory([net], [web, ...others]);
    const nothing = others.map((c) => ask(c.name, undefined, { inventory: inv }).nothing);
    expect(nothing).toEqual([
      "it uses the host's network (network mode host): it publishes nothing of its own; what it listens on is the host's, outside dockward's rules",
      'it has no network (network mode none): it publishes nothing',
      'it shares the network of container web (network mode container:): it publishes nothing of its own; explain web instead',
      'it publishes no ports',
    ]);
  });
});

describe('explain on every golden case and policy shape', () => {
  const shapes = [
    basic.policy,
    policy('version: 1\ndefaults: { published: reject }\nrules:\n  - { ports: ["440-450/tcp"], from: [zone:lan], action: allow }\n  - { containerPorts: [53/udp], from: [any], action: deny }\nzones:\n  lan: { interfaces: ["int+"], sources: [203.0.113.0/24, 198.51.100.0/25] }\n'),
    policy('version: 1\nrules:\n  - { from: [198.51.100.3], action: reject }\n  - { from: [zone:ext], action: deny }\nzones:\n  ext: { interfaces: [ext0] }\n'),
  ];

  it('policy and compiled rules never disagree (no warnings) for any container', () => {
    for (const c of goldenCases()) {
      for (const pol of [c.policy, ...shapes]) {
        for (const ct of c.inventory.containers) {
          const e = explain({ inventory: c.inventory, policy: pol, host: HOST, container: ct.name });
          expect(e.warnings.filter((w) => w.includes('bug in dockward')), `${c.name} ${ct.name}`).toEqual([]);
        }
      }
    }
  });

  it('a UDP binding answers "rejected" with port-unreachable', () => {
    const net = network(1);
    const dns = container(1, net, [udp(53)], { name: 'dns' });
    const e = explain({ inventory: inventory([net], [dns]), policy: shapes[1]!, host: HOST, container: 'dns', from: parseFrom('198.51.100.2@ext0') });
    expect(e.bindings[0]?.answer).toMatchObject({ verdict: 'dropped', decidedBy: { kind: 'rule', index: 1 } });
    const other = explain({ inventory: inventory([net], [container(1, net, [udp(54)], { name: 'dns' })]), policy: shapes[1]!, host: HOST, container: 'dns', from: parseFrom('198.51.100.2@ext0') });
    expect(other.bindings[0]?.answer).toMatchObject({ verdict: 'rejected', rejectWith: 'icmp-port-unreachable', decidedBy: { kind: 'default' } });
  });
});

describe('parseFrom', () => {
  it('takes ADDRESS, ADDRESS@INTERFACE, host and ADDRESS@host', () => {
    expect(parseFrom('198.51.100.2')).toEqual({ address: '198.51.100.2' });
    expect(parseFrom('2001:db8::2@eth0')).toEqual({ address: '2001:db8::2', iface: 'eth0' });
    expect(parseFrom('host')).toEqual({});
    expect(parseFrom('198.51.100.1@host')).toEqual({ address: '198.51.100.1', iface: 'host' });
  });

  it('refuses what is not an address or an interface name', () => {
    expect(() => parseFrom('example.com')).toThrow('--from: "example.com" is not an IPv4 or IPv6 address');
    expect(() => parseFrom('198.51.100.2@eth0;x')).toThrow('is not an interface name');
    expect(() => parseFrom('fe80::1%eth0')).toThrow('is not an IPv4 or IPv6 address');
    expect(() => parseFrom('host@eth0')).toThrow('"host" takes no interface');
  });
});

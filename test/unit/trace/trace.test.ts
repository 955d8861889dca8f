/** The tracer on compiled fixtures: what the kernel would do with one new connection, and why. */
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { containerChain } from '../../../src/compile/names.js';
import type { Inventory } from '../../../src/inventory/types.js';
import type { Policy } from '../../../src/policy/types.js';
import type { Ruleset } from '../../../src/ruleset/types.js';
import { FROM_HOST, trace, type HostView, type Trace } from '../../../src/trace/index.js';
import { container, inventory, network, policy, tcp, udp } from '../../helpers/fixtures.js';

const bridge = network(1);
const appnet = network(2);
const web = container(1, bridge, [tcp(443), tcp(10443, 443), tcp(8080, 80), udp(5353, 53)], { name: 'web' });
const api = container(2, appnet, [tcp(8443, 8443, '198.51.100.1')], { name: 'api' });
const INVENTORY = inventory([bridge, appnet], [web, api]);
const WEB = containerChain(web.id);

const POLICY = policy(`version: 1
zones:
  external: { interfaces: [ext0] }
  office: { interfaces: [int0], sources: [203.0.113.0/24] }
defaults: { published: deny }
rules:
  - { name: public-https, ports: [443/tcp], from: [zone:external, 192.0.2.10] }
  - { name: no-partner, containers: web, ports: [8080], from: [198.51.100.3], action: reject }
  - { name: office, from: [zone:office] }
  - { name: dns, ports: [5353/udp], from: [198.51.100.0/24], action: reject }
`);

const HOST: HostView = {
  localAddresses: ['198.51.100.1', '203.0.113.1', '172.17.0.1', '172.18.0.1'],
  bridges: [{ cidr: '172.17.0.0/16', iface: 'docker0' }, { cidr: '172.18.0.0/16', iface: appnet.bridge }],
};

function ipv4(inv: Inventory = INVENTORY, pol: Policy = POLICY): Ruleset {
  const ruleset = compile(inv, pol).rulesets.find((r) => r.family === 'ipv4');
  if (!ruleset) throw new Error('no IPv4 ruleset');
  return ruleset;
}

const RULESET = ipv4();

interface Knock { from: string; on: string; to?: string; port: number; protocol?: 'tcp' | 'udp' }

function knock(k: Knock, ruleset = RULESET): Trace {
  return trace(ruleset, {
    family: 'ipv4', protocol: k.protocol ?? 'tcp', source: k.from, inIface: k.on,
    destination: k.to ?? (k.on === 'int0' ? '203.0.113.1' : '198.51.100.1'), dport: k.port,
  }, HOST);
}

/** The rules on the way that carry a note, as "table chain note". */
function noted(t: Trace): string[] {
  return t.steps.filter((s) => s.rule.note && s.rule.note !== 'hook').map((s) => `${s.table} ${s.chain} ${s.rule.note}`);
}

describe('trace', () => {
  it('delivers an allowed source to the container, translated, by the deciding rule in every table', () => {
    const t = knock({ from: '198.51.100.2', on: 'ext0', port: 443 });
    expect(t.verdict).toEqual({ kind: 'delivered', address: '172.17.0.2', port: 443, iface: 'docker0' });
    expect(t.dnat).toMatchObject({ address: '172.17.0.2', port: 443 });
    expect(noted(t)).toEqual([
      `mangle ${WEB} rules[0]:public-https`,
      `nat ${WEB} rules[0]:public-https`,
      `filter ${WEB} rules[0]:public-https`,
    ]);
  });

  it('drops a denied source in mangle, before any translation', () => {
    const t = knock({ from: '198.51.100.2', on: 'eth9', port: 443 });
    expect(t.verdict.kind).toBe('dropped');
    expect(t.verdict.kind === 'dropped' && t.verdict.step).toMatchObject({ table: 'mangle', chain: WEB, rule: { note: 'default' } });
    expect(t.dnat).toBeUndefined();
    expect(t.steps.every((s) => s.table === 'raw' || s.table === 'mangle')).toBe(true);
  });

  it('rejects with a TCP reset in filter, after marking in mangle and translating in nat', () => {
    const t = knock({ from: '198.51.100.3', on: 'ext0', port: 8080 });
    expect(t.verdict).toMatchObject({ kind: 'rejected', with: 'tcp-reset', step: { table: 'filter', chain: WEB } });
    expect(noted(t)).toEqual([`mangle ${WEB} rules[1]:no-partner`, `nat ${WEB} rules[1]:no-partner`, `filter ${WEB} rules[1]:no-partner`]);
    expect(t.dnat).toMatchObject({ address: '172.17.0.2', port: 80 });
  });

  it('rejects UDP with port-unreachable', () => {
    const t = knock({ from: '198.51.100.2', on: 'ext0', port: 5353, protocol: 'udp' });
    expect(t.verdict).toMatchObject({ kind: 'rejected', with: 'icmp-port-unreachable' });
  });

  it('refuses a source of a zone that arrives on another interface than the zone names', () => {
    const wrongLink = knock({ from: '203.0.113.2', on: 'ext0', port: 8080 });
    const rightLink = knock({ from: '203.0.113.2', on: 'int0', port: 8080 });
    expect(wrongLink.verdict).toMatchObject({ kind: 'dropped', step: { table: 'mangle', rule: { note: 'default' } } });
    expect(rightLink.verdict).toMatchObject({ kind: 'delivered', address: '172.17.0.2', port: 80 });
    expect(noted(rightLink)).toContain(`filter ${WEB} rules[2]:office`);
  });

  it('drops direct routed access to a container address in raw', () => {
    const t = knock({ from: '198.51.100.2', on: 'ext0', to: '172.17.0.2', port: 80 });
    expect(t.verdict).toMatchObject({ kind: 'dropped', step: { table: 'raw', rule: { note: 'direct' } } });
  });

  it('always delivers the host’s own connections: nat OUTPUT translates them, FORWARD never sees them', () => {
    for (const port of [443, 8080, 10443]) {
      const t = knock({ from: '198.51.100.1', on: FROM_HOST, to: '198.51.100.1', port });
      expect(t.verdict.kind, `port ${port}`).toBe('delivered');
      expect(noted(t)).toContain(`nat ${WEB} host`);
      expect(t.steps.some((s) => s.table === 'filter' || s.table === 'mangle' && s.chain === WEB)).toBe(false);
    }
  });

  it('ports match the host port dialled, containerPorts the container side', () => {
    const byHost = ipv4(INVENTORY, policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { ports: [443/tcp] }\n'));
    const byContainer = ipv4(INVENTORY, policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { containerPorts: [443/tcp] }\n'));
    const verdict = (r: Ruleset, port: number) => knock({ from: '198.51.100.2', on: 'ext0', port }, r).verdict.kind;
    expect([verdict(byHost, 443), verdict(byHost, 10443)]).toEqual(['delivered', 'dropped']);
    expect([verdict(byContainer, 443), verdict(byContainer, 10443)]).toEqual(['delivered', 'delivered']);
  });

  it('leaves a connection to a bound binding through another host address untranslated: it reaches the host', () => {
    const bound = knock({ from: '203.0.113.2', on: 'int0', to: '198.51.100.1', port: 8443 });
    const other = knock({ from: '203.0.113.2', on: 'int0', to: '203.0.113.1', port: 8443 });
    expect(bound.verdict).toMatchObject({ kind: 'delivered', address: '172.18.0.3' });
    expect(other.verdict).toEqual({ kind: 'host' });
  });

  it('with filter wiped, a rejected source is still dropped by the mark mangle set (the reject guard)', () => {
    const wiped: Ruleset = { ...RULESET, tables: { ...RULESET.tables, filter: { chains: [], hooks: [] } } };
    const t = knock({ from: '198.51.100.3', on: 'ext0', port: 8080 }, wiped);
    expect(t.verdict).toMatchObject({ kind: 'dropped', step: { table: 'mangle', chain: 'DOCKWARD-POSTROUTING', rule: { note: 'reject-guard' } } });
  });

  it('traces IPv6 through the IPv6 ruleset, to the container’s IPv6 address', () => {
    const dual = network(3, { subnets: [...network(3).subnets, { family: 'ipv6', cidr: 'fd00:3::/64', gateway: 'fd00:3::1' }] });
    const v6 = container(3, dual, [tcp(8080, 80, '::')], { endpoints: [{ networkId: dual.id, networkName: dual.name, ipv4: '172.19.0.4', ipv6: 'fd00:3::4' }] });
    const host: HostView = { localAddresses: ['2001:db8:2::1', 'fd00:3::1'], bridges: [{ cidr: 'fd00:3::/64', iface: dual.bridge }] };
    const verdict = (yaml: string) => {
      const ruleset = compile(inventory([dual], [v6]), policy(yaml)).rulesets.find((r) => r.family === 'ipv6')!;
      return trace(ruleset, { family: 'ipv6', protocol: 'tcp', source: '2001:db8:2::2', inIface: 'int0', destination: '2001:db8:2::1', dport: 8080 }, host).verdict;
    };
    const deny = 'version: 1\ndefaults: { published: deny }\n';
    expect(verdict(deny).kind).toBe('dropped');
    expect(verdict(`${deny}rules:\n  - { from: [2001:db8:2::/64] }\n`)).toEqual({ kind: 'delivered', address: 'fd00:3::4', port: 80, iface: dual.bridge });
  });

  it('takes the operator’s DOCKER-USER chain as empty, and says so', () => {
    const t = knock({ from: '198.51.100.2', on: 'ext0', port: 443 });
    expect(t.opaque).toEqual(['filter/DOCKER-USER']);
  });

  it('a connection to a host address crosses INPUT: an egress rule lets a container reach the host, the default refuses the rest', () => {
    const ruleset = ipv4(INVENTORY, policy('version: 1\ndefaults: { outbound: deny }\negress:\n  - { containers: web, to: [172.17.0.1], ports: [53/udp] }\n'));
    const ask = (port: number, protocol: 'tcp' | 'udp') => trace(ruleset, { family: 'ipv4', protocol, source: '172.17.0.2', inIface: 'docker0', destination: '172.17.0.1', dport: port }, HOST);
    expect(ask(53, 'udp').verdict).toEqual({ kind: 'host' });
    expect(noted(ask(53, 'udp'))).toEqual(expect.arrayContaining([expect.stringMatching(/^filter DOCKWARD-L-\S+ egress\[0\]$/)]));
    expect(ask(53, 'tcp').verdict).toMatchObject({ kind: 'dropped', step: { table: 'mangle', chain: 'DOCKWARD-INPUT', rule: { note: 'outbound' } } });
  });

  it('to an outbound interface: `via` routes a destination out of it, where a zone of interfaces matches', () => {
    const ruleset = ipv4(INVENTORY, policy('version: 1\nzones:\n  up: { interfaces: [ext0] }\ndefaults: { outbound: deny }\negress:\n  - { to: [zone:up], ports: [443] }\n'));
    const out = (via?: string) => trace(ruleset, { family: 'ipv4', protocol: 'tcp', source: '172.17.0.2', inIface: 'docker0', destination: '192.0.2.80', dport: 443, ...(via ? { via } : {}) }, HOST).verdict.kind;
    expect([out('ext0'), out('eth9'), out()]).toEqual(['forwarded', 'dropped', 'dropped']);
  });
});

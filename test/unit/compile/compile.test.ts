import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { containerChain, sourceChain } from '../../../src/compile/names.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { renderRuleset } from '../../../src/ruleset/plan.js';
import { parseRule } from '../../../src/ruleset/parse.js';
import type { Container, Inventory } from '../../../src/inventory/types.js';
import type { Policy } from '../../../src/policy/types.js';
import { container, inventory, network, policy, tcp, udp } from '../../helpers/fixtures.js';

const net = network(1);

function rendered(inv: Inventory, pol: Policy = BUILTIN_DEFAULT): string {
  return renderRuleset(compile(inv, pol).rulesets[0]!);
}

/** Rule lines of one chain in one table of the rendered text. */
function chain(text: string, table: string, name: string): string[] {
  const block = text.split(`*${table}\n`)[1]?.split('COMMIT')[0] ?? '';
  return block.split('\n').filter((l) => l.startsWith(`-A ${name} `)).map((l) => l.replace(/ -m comment --comment "[^"]*"/, ''));
}

describe('compile', () => {
  it('writes exactly one DNAT per binding, also when Docker reports it twice', () => {
    const c = container(1, net, [tcp(8080, 80), tcp(8080, 80), tcp(8080, 80, '::')]);
    const nat = chain(rendered(inventory([net], [c])), 'nat', containerChain(c.id));
    expect(nat).toEqual([`-A ${containerChain(c.id)} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80`]);
  });

  it('publishes a [::] binding in IPv6 only, and only for a container with an IPv6 address', () => {
    const dual = network(2, { subnets: [...network(2).subnets, { family: 'ipv6', cidr: 'fd00:2::/64', gateway: 'fd00:2::1' }] });
    const withV6 = container(1, dual, [tcp(8080, 80, '0.0.0.0'), tcp(8080, 80, '::')], {
      endpoints: [{ networkId: dual.id, networkName: dual.name, ipv4: '172.18.0.2', ipv6: 'fd00:2::2' }],
    });
    const v4only = container(2, net, [tcp(9090, 80, '::')]);
    const [v4, v6] = compile(inventory([net, dual], [withV6, v4only]), BUILTIN_DEFAULT).rulesets.map((r) => renderRuleset(r));
    expect(chain(v4!, 'nat', containerChain(withV6.id))).toEqual([`-A ${containerChain(withV6.id)} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80`]);
    expect(chain(v6!, 'nat', containerChain(withV6.id))).toEqual([`-A ${containerChain(withV6.id)} -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:2::2]:80`]);
    expect(v4 + v6!).not.toContain('9090');
    expect(chain(v6!, 'nat', 'DOCKWARD-PREROUTING')[0]).toBe('-A DOCKWARD-PREROUTING -s fe80::/10 -j RETURN');
    expect(chain(v6!, 'nat', 'DOCKWARD-POSTROUTING')).toContain(`-A DOCKWARD-POSTROUTING -s fd00:2::/64 ! -o ${dual.bridge} -j MASQUERADE`);
  });

  it('binds a published port to its host address when Docker names one', () => {
    const c = container(1, net, [udp(5353, 53, '198.51.100.1')]);
    const nat = chain(rendered(inventory([net], [c])), 'nat', containerChain(c.id));
    expect(nat).toEqual([`-A ${containerChain(c.id)} -d 198.51.100.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.2:53`]);
  });

  it('gives containers in host, none or container: network mode no rules of their own', () => {
    const host = container(1, net, [], { networkMode: 'host', endpoints: [] });
    const none = container(2, net, [], { networkMode: 'none', endpoints: [] });
    const joined = container(3, net, [], { networkMode: `container:${'c1'.padEnd(64, '0')}`, endpoints: [] });
    const text = rendered(inventory([net], [host, none, joined]));
    for (const c of [host, none, joined]) expect(text).not.toContain(containerChain(c.id));
  });

  it('masquerades the default bridge although Docker reports masquerade off for it', () => {
    const reported = network(1, { options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' } });
    const user = network(2, { options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' } });
    const post = chain(rendered(inventory([reported, user], [])), 'nat', 'DOCKWARD-POSTROUTING');
    expect(post).toContain('-A DOCKWARD-POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE');
    expect(post.join('\n')).not.toContain('-s 172.18.0.0/16');
  });

  it('drops traffic between containers of a network with ICC off, and accepts it otherwise', () => {
    const off = network(2, { options: { 'com.docker.network.bridge.enable_icc': 'false' } });
    const forward = chain(rendered(inventory([net, off], [])), 'filter', 'DOCKWARD-FORWARD');
    expect(forward).toContain('-A DOCKWARD-FORWARD -i docker0 -o docker0 -j ACCEPT');
    expect(forward).toContain(`-A DOCKWARD-FORWARD -i ${off.bridge} -o ${off.bridge} -j DROP`);
  });

  it('refuses everything into a bridge that no earlier rule accepted, before any outbound accept', () => {
    const other = network(2);
    const forward = chain(rendered(inventory([net, other], [])), 'filter', 'DOCKWARD-FORWARD');
    const lastDrop = forward.lastIndexOf(`-A DOCKWARD-FORWARD -o ${other.bridge} -j DROP`);
    const firstAccept = forward.indexOf('-A DOCKWARD-FORWARD -i docker0 -j ACCEPT');
    expect(lastDrop).toBeGreaterThan(-1);
    expect(firstAccept).toBeGreaterThan(lastDrop);
  });

  it('enforces a refused source in mangle, nat and filter alike', () => {
    const c = container(1, net, [tcp(443)]);
    const pol = policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { ports: [443], from: [198.51.100.0/24] }\n');
    const text = rendered(inventory([net], [c]), pol);
    const name = containerChain(c.id);
    expect(chain(text, 'mangle', name)).toEqual([
      `-A ${name} -s 198.51.100.0/24 -p tcp -m tcp --dport 443 -j RETURN`,
      `-A ${name} -p tcp -m tcp --dport 443 -j DROP`,
    ]);
    expect(chain(text, 'nat', name)).toEqual([
      `-A ${name} -p tcp -m tcp --dport 443 -m addrtype --src-type LOCAL -j DNAT --to-destination 172.17.0.2:443`,
      `-A ${name} -s 198.51.100.0/24 -p tcp -m tcp --dport 443 -j DNAT --to-destination 172.17.0.2:443`,
    ]);
    expect(chain(text, 'filter', name)).toEqual([
      `-A ${name} -s 198.51.100.0/24 -d 172.17.0.2/32 -p tcp -m conntrack --ctstate DNAT --ctorigdstport 443 -m tcp --dport 443 -j ACCEPT`,
      `-A ${name} -d 172.17.0.2/32 -p tcp -m conntrack --ctstate DNAT --ctorigdstport 443 -m tcp --dport 443 -j DROP`,
    ]);
  });

  it('judges `ports` by the dialled host port and `containerPorts` by the container side', () => {
    const c = container(1, net, [tcp(10443, 443)]);
    const byHost = policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { ports: [443/tcp] }\n');
    const byContainer = policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { containerPorts: [443/tcp] }\n');
    const name = containerChain(c.id);
    expect(chain(rendered(inventory([net], [c]), byHost), 'filter', name).at(-1)).toMatch(/-j DROP$/);
    expect(chain(rendered(inventory([net], [c]), byContainer), 'filter', name)).toEqual([
      `-A ${name} -d 172.17.0.2/32 -p tcp -m conntrack --ctstate DNAT --ctorigdstport 10443 -m tcp --dport 443 -j ACCEPT`,
    ]);
  });

  it('rejects with a TCP reset for TCP and port-unreachable otherwise', () => {
    const c = container(1, net, [tcp(80), udp(53)]);
    const pol = policy('version: 1\ndefaults: { published: reject }\n');
    const filter = chain(rendered(inventory([net], [c]), pol), 'filter', containerChain(c.id));
    expect(filter[0]).toMatch(/-j REJECT --reject-with tcp-reset$/);
    expect(filter[1]).toMatch(/-j REJECT --reject-with icmp-port-unreachable$/);
  });

  it('is deterministic: the same input renders the same bytes', () => {
    const inv = inventory([net], [container(1, net, [tcp(80)]), container(2, net, [tcp(81)])]);
    expect(rendered(inv)).toBe(rendered(inv));
  });
});

/**
 * Injection: every kind of string Docker hands over, carrying newlines, quotes and iptables
 * syntax. The rendered text must hold only lines of dockward's own grammar (no foreign rule,
 * no trace of the payload), and the hostile container must still be published as the policy
 * says (its DNAT and its ACCEPT are there), or the test would pass with the container left out.
 */
describe('strings from Docker never reach the restore text', () => {
  const PAYLOADS = [
    'x" -j ACCEPT -m comment --comment "EVIL',
    'x\n-A FORWARD -j ACCEPT -m comment --comment EVIL',
    'x\r\nCOMMIT\n*filter\n-I FORWARD 1 -j ACCEPT #EVIL',
    "x' $(EVIL) ; -j ACCEPT",
    'x -o -jACCEPT EVIL',
  ];
  const HOOK = /^-I (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) \d+ -m comment --comment "DW:[0-9a-f]{16} hook" -j (DOCKWARD-[A-Z0-9-]+|DOCKER-USER)$/;

  /** Every line is one dockward writes: a table, an owned chain, an owned rule that parses back, a hook, COMMIT. */
  function foreignLines(text: string): string[] {
    return text.split('\n').filter((line) => {
      if (line === '' || line === 'COMMIT' || /^\*(raw|mangle|filter|nat)$/.test(line)) return false;
      if (/^:(DOCKWARD-[A-Z0-9-]+|DOCKER-USER) - \[0:0\]$/.test(line)) return false;
      if (HOOK.test(line)) return false;
      const owned = /^-A DOCKWARD-[A-Z0-9-]+ (.*)$/.exec(line);
      if (!owned) return true;
      try {
        parseRule(owned[1]!);
        return false;
      } catch {
        return true;
      }
    });
  }

  function expectPublished(text: string, c: Container, ip: string): void {
    const name = containerChain(c.id);
    expect(chain(text, 'nat', name)).toContain(`-A ${name} -p tcp -m tcp --dport 80 -j DNAT --to-destination ${ip}:80`);
    expect(chain(text, 'filter', name).some((l) => l.endsWith('-j ACCEPT') && l.includes('--ctorigdstport 80'))).toBe(true);
  }

  const yaml = (text: string) => JSON.stringify(text);
  const deny = 'version: 1\ndefaults: { published: deny }\n';
  type Case = (evil: string) => { inv: Inventory; pol: Policy; c: Container; ip: string };
  const kinds: Record<string, Case> = {
    'container name': (evil) => {
      const c = container(1, net, [tcp(80)], { name: evil });
      return { inv: inventory([net], [c]), pol: policy(`${deny}rules:\n  - { containers: "x*", ports: [80] }\n`), c, ip: '172.17.0.2' };
    },
    'label key and value': (evil) => {
      const c = container(1, net, [tcp(80)], { labels: { [evil]: evil } });
      return { inv: inventory([net], [c]), pol: policy(`${deny}rules:\n  - { containers: { label: ${yaml(evil)} }, ports: [80] }\n`), c, ip: '172.17.0.2' };
    },
    'dockward.rules label value': (evil) => {
      const c = container(1, net, [tcp(80)], { labels: { 'dockward.rules': `allow 80 from any; ${evil}` } });
      return { inv: inventory([net], [c]), pol: policy(`${deny}labels: { enabled: true }\nrules:\n  - { containers: c1, ports: [80] }\n`), c, ip: '172.17.0.2' };
    },
    image: (evil) => {
      const c = container(1, net, [tcp(80)], { image: evil });
      return { inv: inventory([net], [c]), pol: policy(`${deny}rules:\n  - { containers: { image: "x*" }, ports: [80] }\n`), c, ip: '172.17.0.2' };
    },
    'compose project and service': (evil) => {
      const c = container(1, net, [tcp(80)], { labels: { 'com.docker.compose.project': evil, 'com.docker.compose.service': evil }, compose: { project: evil, service: evil } });
      return { inv: inventory([net], [c]), pol: policy(`${deny}rules:\n  - { containers: { compose: "x*/x*" }, ports: [80] }\n`), c, ip: '172.17.0.2' };
    },
    'network name and labels': (evil) => {
      const hostile = network(2, { name: evil, labels: { [evil]: evil } });
      const c = container(1, hostile, [tcp(80)], { networkMode: evil });
      const pol = policy(`${deny}networks:\n  "x*": { icc: deny }\nrules:\n  - { ports: [80] }\n`);
      return { inv: inventory([net, hostile], [c]), pol, c, ip: '172.18.0.2' };
    },
  };

  it.each(Object.keys(kinds))('%s: no foreign rule, and the container is still published', (kind) => {
    for (const evil of PAYLOADS) {
      const { inv, pol, c, ip } = kinds[kind]!(evil);
      const text = rendered(inv, pol);
      expect(foreignLines(text), JSON.stringify(evil)).toEqual([]);
      expect(text).not.toContain('EVIL');
      expectPublished(text, c, ip);
    }
  });

  it('network name: the policy\'s ICC override for a matching glob reaches the hostile network\'s bridge', () => {
    const hostile = network(2, { name: PAYLOADS[1]! });
    const text = rendered(inventory([net, hostile], []), policy('version: 1\nnetworks:\n  "x*": { icc: deny }\n'));
    expect(chain(text, 'filter', 'DOCKWARD-FORWARD')).toContain(`-A DOCKWARD-FORWARD -i ${hostile.bridge} -o ${hostile.bridge} -j DROP`);
  });

  it.each([...PAYLOADS, '-jACCEPT', '-o', 'br+', 'a/b', 'sixteen-chars-xx', '.', '..', ''])(
    'bridge name option %j: that network is left out with a note, the others stay published',
    (bridge) => {
      const bad = network(3, { name: 'fine', bridge });
      const onBad = container(2, bad, [tcp(81)]);
      const good = container(1, net, [tcp(80)]);
      const compiled = compile(inventory([net, bad], [good, onBad]), BUILTIN_DEFAULT);
      const text = renderRuleset(compiled.rulesets[0]!);
      expect(foreignLines(text)).toEqual([]);
      expect(text).not.toContain('172.19.0.');
      const asInterface = text.split('\n').filter((l) => l.includes(` -i ${bridge} `) || l.includes(` -o ${bridge} `));
      expect(asInterface).toEqual([]);
      expect(compiled.notes).toContain(`network ${bad.id.slice(0, 12)}: bridge name is not a valid interface name; network left out`);
      expectPublished(text, good, '172.17.0.2');
    },
  );

  it('the line check itself catches an injected rule (so the tests above can fail)', () => {
    const text = rendered(inventory([net], [container(1, net, [tcp(80)])]));
    expect(foreignLines(`${text}\n-A FORWARD -j ACCEPT`)).toEqual(['-A FORWARD -j ACCEPT']);
    expect(foreignLines(text.replace('COMMIT', '-A DOCKWARD-FORWARD -o -jACCEPT\nCOMMIT'))).toEqual(['-A DOCKWARD-FORWARD -o -jACCEPT']);
  });
});

describe('network:NAME sources', () => {
  it('admit the containers of that network, through its bridge, and match nothing for a network that does not exist', () => {
    const app = network(2, { name: 'app' });
    const c = container(1, net, [tcp(8080, 80)]);
    const pol = policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { from: [network:app, network:nowhere] }\n');
    const name = containerChain(c.id);
    expect(chain(rendered(inventory([net, app], [c]), pol), 'filter', name)).toEqual([
      `-A ${name} -d 172.17.0.2/32 -i ${app.bridge} -p tcp -m conntrack --ctstate DNAT --ctorigdstport 8080 -m tcp --dport 80 -j ACCEPT`,
      `-A ${name} -d 172.17.0.2/32 -p tcp -m conntrack --ctstate DNAT --ctorigdstport 8080 -m tcp --dport 80 -j DROP`,
    ]);
  });
});

describe('network options', () => {
  it('leaves from the host_ipv4 address (SNAT) instead of masquerading, as Docker does', () => {
    const snat = network(2, { options: { 'com.docker.network.host_ipv4': '198.51.100.1' } });
    const post = chain(rendered(inventory([snat], [])), 'nat', 'DOCKWARD-POSTROUTING');
    expect(post).toContain(`-A DOCKWARD-POSTROUTING -s 172.18.0.0/16 ! -o ${snat.bridge} -j SNAT --to-source 198.51.100.1`);
  });
});

describe('legacy links', () => {
  it('open the linked container\'s exposed ports to its parent when ICC is off, and nothing else', () => {
    const off = network(2, { options: { 'com.docker.network.bridge.enable_icc': 'false' } });
    const db = container(1, off, [], { name: 'db', exposedPorts: ['5432/tcp'] });
    const web = container(2, off, [], { name: 'web', links: ['db'] });
    const text = rendered(inventory([off], [db, web]));
    const lines = text.split('\n').filter((l) => l.includes('"DW:') && l.includes(' link"'));
    expect(lines.some((l) => l.includes(`-s 172.18.0.3/32 -i ${off.bridge} -p tcp -m tcp --dport 5432`) && l.endsWith(`-j ${sourceChain(web.id)}`))).toBe(true);
    expect(text).toContain(`-A ${sourceChain(web.id)} -m comment --comment`);
    expect(text).not.toMatch(/-s 172\.18\.0\.2\/32 .*--dport 5432 .* link"/);
  });
});

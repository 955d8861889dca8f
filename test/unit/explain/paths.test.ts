/** explain beyond published ports, on fixtures: outbound, container-to-container and host-direct paths, traced through the compiled rules. */
import { describe, expect, it } from 'vitest';
import { explain, renderText, type Explanation, type HostAddress } from '../../../src/explain/index.js';
import type { PathLine, PeerView } from '../../../src/explain/model.js';
import type { Policy } from '../../../src/policy/types.js';
import { container, inventory, network, policy } from '../../helpers/fixtures.js';
import { goldenCases } from '../trace/golden.js';

const HOST: HostAddress[] = [
  { iface: 'lo', address: '127.0.0.1', cidr: '127.0.0.1/8' },
  { iface: 'eth0', address: '198.51.100.1', cidr: '198.51.100.1/24' },
];

const golden = (name: string) => goldenCases().find((c) => c.name === name)!;

function ask(caseName: string, container: string, pol?: Policy): Explanation {
  const c = golden(caseName);
  return explain({ inventory: c.inventory, policy: pol ?? c.policy, host: HOST, container });
}

/** "what: action by decider" per line, the way a reader checks them. */
function said(lines: readonly PathLine[]): string[] {
  return lines.map((l) => `${l.what}: ${l.action} ${l.decidedBy ? JSON.stringify(l.decidedBy.kind === 'rule' ? l.decidedBy.place : l.decidedBy) : '-'}`);
}

function peer(e: Explanation, direction: 'in' | 'out', name: string, family = 'ipv4'): PeerView {
  const p = e.peers.find((x) => x.direction === direction && x.peer === name && x.family === family);
  if (!p) throw new Error(`no ${direction} path with ${name}`);
  return p;
}

describe('explain: container-to-container paths (03-connections)', () => {
  it('says who may reach db directly and whom db may reach, with the deciding rule or the ICC/isolation default', () => {
    const text = renderText(ask('03-connections', 'db'));
    expect(text.slice(text.indexOf('direct from other containers to 172.19.0.2'), text.indexOf('direct from other containers to fd00'))).toMatchInlineSnapshot(`
      "direct from other containers to 172.19.0.2, first match wins:
          app: 5432/tcp: allow by connections[0] app-db; other ports: deny by isolation between networks
          worker: 5432/tcp: allow by connections[1] worker-db; other ports: deny by ICC off for network back (policy networks.back)
          other: any port: deny by connections[2]

      "
    `);
    expect(text).toContain('direct from 172.19.0.2 to other containers, first match wins:\n    app, other: any port: deny by isolation between networks\n'
      + '    worker: any port: deny by ICC off for network back (policy networks.back)');
    expect(text).toContain('chains (ipv4): connections: raw, mangle, filter DOCKWARD-K-A2ECD841E2EED089');
  });

  it('the JSON names the rule by place and name, the traced packet and the chains that implement it', () => {
    const e = ask('03-connections', 'db');
    const app = peer(e, 'in', 'app');
    expect(app).toMatchObject({ peerAddress: '172.18.0.2', address: '172.19.0.2' });
    expect(app.sharedNetwork).toBeUndefined();
    expect(app.lines[0]).toMatchObject({
      what: '5432/tcp', action: 'allow', verdict: 'delivered',
      packet: { source: '172.18.0.2', iface: 'br-222222222222', destination: '172.19.0.2', protocol: 'tcp', port: 5432 },
      decidedBy: { kind: 'rule', section: 'connections', index: 0, place: 'connections[0]', name: 'app-db' },
    });
    expect(app.lines[0]?.chains).toEqual(expect.arrayContaining(['raw DOCKWARD-K-A2ECD841E2EED089', 'filter DOCKWARD-K-A2ECD841E2EED089']));
    expect(peer(e, 'in', 'worker').lines[1]).toMatchObject({ what: 'other ports', action: 'deny', decidedBy: { kind: 'icc', network: 'back', icc: false, by: 'networks.back' } });
    expect(peer(e, 'in', 'worker').sharedNetwork).toBe('back');
  });

  it('follows the compiled rules: the ICC override and the rule list change the answers', () => {
    const open = policy('version: 1\nnetworks:\n  back: { icc: allow }\nconnections:\n  - { from: app, to: db, ports: [5432/tcp], action: deny }\n');
    const e = ask('03-connections', 'db', open);
    expect(said(peer(e, 'in', 'worker').lines)).toEqual(['any port: allow {"kind":"icc","network":"back","icc":true,"by":"networks.back"}']);
    expect(said(peer(e, 'in', 'app').lines)).toEqual(['5432/tcp: deny "connections[0]"', 'other ports: deny {"kind":"isolation"}']);
    expect(said(peer(e, 'out', 'worker').lines)).toEqual(['any port: allow {"kind":"icc","network":"back","icc":true,"by":"networks.back"}']);
  });

  it('is no longer "it publishes no ports" alone for a container that publishes nothing', () => {
    const e = ask('03-connections', 'db');
    expect(e.nothing).toBe('it publishes no ports');
    expect(e.peers.length).toBeGreaterThan(0);
    expect(e.outbound.map((o) => o.address)).toEqual(['172.19.0.2', 'fd00:19::2']);
  });
});

describe('explain: outbound paths (04-egress)', () => {
  it('lists each egress rule that selects the container, in order, then defaults.outbound elsewhere and to the host', () => {
    const e = ask('04-egress', 'app');
    const v4 = e.outbound.find((o) => o.family === 'ipv4')!;
    expect(said(v4.lines)).toEqual([
      'zone:resolvers (172.17.0.1/32) 53/udp: allow "egress[0]"',
      'zone:resolvers (172.17.0.1/32) 53/tcp: allow "egress[0]"',
      'zone:resolvers (192.0.2.53/32) 53/udp: allow "egress[0]"',
      'zone:resolvers (192.0.2.53/32) 53/tcp: allow "egress[0]"',
      'anywhere 25/tcp: reject "egress[1]"',
      'zone:uplink (out of eth0) 443/tcp: allow "egress[2]"',
      'anywhere else, other ports: deny {"kind":"default","setting":"defaults.outbound"}',
      'the host itself (172.18.0.1), other ports: deny {"kind":"default","setting":"defaults.outbound"}',
    ]);
    // To the host's resolver address the way is INPUT (the L- chain), elsewhere FORWARD (the E- chain).
    expect(v4.lines[0]).toMatchObject({ verdict: 'host', decidedBy: { name: 'dns' } });
    expect(v4.lines[0]?.chains).toContain('filter DOCKWARD-L-B770C6F9B11A8D89');
    expect(v4.lines[2]).toMatchObject({ verdict: 'forwarded' });
    expect(v4.lines[2]?.chains).toContain('filter DOCKWARD-E-B770C6F9B11A8D89');
    expect(v4.lines[4]).toMatchObject({ verdict: 'rejected', rejectWith: 'tcp-reset' });
  });

  it('db is selected by the dns rule only: everything else is the default', () => {
    const text = renderText(ask('04-egress', 'db'));
    expect(text).toContain(`outbound from 172.19.0.2 (network back), first match wins:
    zone:resolvers (172.17.0.1/32) 53/udp      allow  egress[0] dns
    zone:resolvers (172.17.0.1/32) 53/tcp      allow  egress[0] dns
    zone:resolvers (192.0.2.53/32) 53/udp      allow  egress[0] dns
    zone:resolvers (192.0.2.53/32) 53/tcp      allow  egress[0] dns
    anywhere else, other ports                 deny   defaults.outbound
    the host itself (172.19.0.1), other ports  deny   defaults.outbound`);
    expect(text).toMatch(/chains \(ipv4\): outbound: mangle, filter DOCKWARD-E-A2ECD841E2EED089; outbound to the host: mangle, filter DOCKWARD-L-A2ECD841E2EED089/);
  });

  it('without egress rules and with the permissive default, outbound is allowed by defaults.outbound', () => {
    const e = ask('04-egress', 'db', policy('version: 1\n'));
    expect(said(e.outbound[0]!.lines)).toEqual([
      'anywhere else, other ports: allow {"kind":"default","setting":"defaults.outbound"}',
      'the host itself (172.19.0.1), other ports: allow {"kind":"default","setting":"defaults.outbound"}',
    ]);
  });
});

describe('explain names label clauses by their place in the label (07-labels)', () => {
  it('a clause of web\'s dockward.rules is label[N], never the file rule of that index', () => {
    const c = golden('07-labels');
    const e = explain({ inventory: c.inventory, policy: c.policy, host: HOST, container: 'web', from: { address: '192.0.2.7', iface: 'eth9' } });
    const [https, admin] = e.bindings;
    expect(https?.lines.map((l) => l.decidedBy)).toEqual([
      { kind: 'rule', section: 'label', index: 0, place: 'label[0]' },
      { kind: 'rule', section: 'label', index: 0, place: 'label[0]' },
      { kind: 'default', setting: 'defaults.published' },
    ]);
    expect(https?.answer).toMatchObject({ allowed: true, decidedBy: { section: 'label', place: 'label[0]' } });
    expect(admin?.lines.map((l) => l.decidedBy)).toEqual([
      { kind: 'rule', section: 'rules', index: 0, place: 'rules[0]', name: 'office-admin' },
      { kind: 'rule', section: 'label', index: 1, place: 'label[1]' },
    ]);
    expect(admin?.answer).toMatchObject({ allowed: false, verdict: 'dropped', decidedBy: { section: 'label', place: 'label[1]' } });
    const text = renderText(e);
    expect(text).toContain("8080/tcp on every host address → web:80: allowed from zone:office (198.51.100.0/24) by rules[0] office-admin; everyone else: deny by label[1] (the container's dockward.rules label)");
    expect(text).toContain("refused: dropped by label[1] (the container's dockward.rules label)");
    expect(text).not.toContain('rules[1]');
  });
});

describe('explain names host.toContainers rules (05-host)', () => {
  const c = golden('05-host');

  it('an allowing host rule is named, not taken for the host exemption; its chains are listed', () => {
    const e = explain({ inventory: c.inventory, policy: c.policy, host: HOST, container: 'app', from: {} });
    expect(e.bindings[0]?.fromHost).toEqual({ allowed: true, decidedBy: { kind: 'rule', section: 'host.toContainers', index: 0, place: 'host.toContainers[0]', name: 'proxy' } });
    expect(e.bindings[0]?.answer).toMatchObject({ allowed: true, decidedBy: { place: 'host.toContainers[0]', name: 'proxy' } });
    expect(e.chains.filter((r) => r.role === 'from the host').map((r) => `${r.table} ${r.chain}`)).toEqual(['mangle DOCKWARD-H-B770C6F9B11A8D89', 'filter DOCKWARD-H-B770C6F9B11A8D89']);
    expect(renderText(e)).toContain('the host itself (not governed by rules): allow by host.toContainers[0] proxy');
  });

  it('a refusal by a host rule is named by place and name, on the published and the direct way', () => {
    const refusing = policy('version: 1\nhost:\n  toContainers:\n    - { name: no-admin, containers: app, ports: [8080/tcp], action: reject }\n');
    const e = explain({ inventory: c.inventory, policy: refusing, host: HOST, container: 'app', from: {} });
    expect(e.bindings[0]?.fromHost).toEqual({ allowed: false, decidedBy: { kind: 'rule', section: 'host.toContainers', index: 0, place: 'host.toContainers[0]', name: 'no-admin' } });
    expect(e.bindings[0]?.answer).toMatchObject({ allowed: false, verdict: 'rejected', rejectWith: 'tcp-reset' });
    expect(said(e.hostDirect[0]!.lines)).toEqual(['8080/tcp: reject "host.toContainers[0]"', 'other ports: allow {"kind":"host"}']);
    expect(renderText(e)).toContain('the host itself (not governed by rules): refused by host.toContainers[0] no-admin');
  });

  it('db: reached directly on 5432 by the probe rule, refused elsewhere by the catch-all reject', () => {
    const e = explain({ inventory: c.inventory, policy: c.policy, host: HOST, container: 'db' });
    expect(said(e.hostDirect[0]!.lines)).toEqual(['5432/tcp: allow "host.toContainers[1]"', 'other ports: reject "host.toContainers[2]"']);
  });
});

describe('explain with many peers', () => {
  it('puts peers with the same answer on one line, naming ten of them in text', () => {
    const net = network(1);
    const all = Array.from({ length: 14 }, (_, i) => container(i + 1, net, [], { name: `c${String(i + 1).padStart(2, '0')}`, id: `${i + 1}`.padStart(64, 'f') }));
    const e = explain({ inventory: inventory([net], all), policy: policy('version: 1\n'), host: HOST, container: 'c01' });
    expect(e.peers.filter((p) => p.direction === 'in')).toHaveLength(13);
    expect(renderText(e)).toContain('    c02, c03, c04, c05, c06, c07, c08, c09, c10, c11 and 3 more (--json lists them): any port: allow by ICC on for network bridge (Docker\'s enable_icc option)\n');
  });
});

describe('explain and ipsets (08-ipsets)', () => {
  const c = golden('08-ipsets');
  const ipsets = new Map([['f2b-sshd', 'ipv4' as const]]);

  it('a ban list that exists is the first line, named by its set; the set rule decides what the kernel decides', () => {
    const e = explain({ inventory: c.inventory, policy: c.policy, host: HOST, container: 'web', ipsets, from: { address: '192.0.2.99', iface: 'eth9' } });
    const https = e.bindings[0]!;
    expect(https.lines.map((l) => [l.source, l.action, l.decidedBy.kind === 'rule' ? l.decidedBy.place : l.decidedBy.kind])).toEqual([
      ['zone:banned (ipset f2b-sshd)', 'deny', 'rules[0]'],
      [expect.stringMatching(/^zone:partners \(ipset DOCKWARD-Z-\S+\)$/), 'allow', 'rules[1]'],
      ['any', 'deny', 'default'],
    ]);
    // The tracer takes every address as a member of a set: the ban decides.
    expect(https.answer).toMatchObject({ allowed: false, verdict: 'dropped', decidedBy: { place: 'rules[0]', name: 'bans' } });
    expect(e.warnings).toEqual(['zone:crowd: ipset crowdsec-v4 does not exist (yet); the rules that use it are left out until it does']);
    expect(renderText(e)).toContain('443/tcp on every host address → web:443: denied from zone:banned (ipset f2b-sshd) by rules[0] bans; ');
  });

  it('a set that does not exist is out of the rules and out of the answer, with a warning', () => {
    const e = explain({ inventory: c.inventory, policy: c.policy, host: HOST, container: 'web' });
    expect(e.bindings[0]!.lines.map((l) => l.source)).toEqual([expect.stringMatching(/^zone:partners/), 'any']);
    expect(e.warnings).toEqual(expect.arrayContaining([expect.stringContaining('ipset f2b-sshd does not exist (yet)')]));
  });
});

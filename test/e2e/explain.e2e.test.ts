/**
 * explain against the kernel. A policy with several rules is applied in the lab; then,
 * for every source × published port, `dockward explain NAME --from ADDR@IFACE --json`
 * must say what a real connection finds: the container answers exactly when explain
 * says "allowed", and for TCP a refusal explain calls "rejected" is a reset while
 * "dropped" is silence. The same holds for the containers' own outbound connections
 * and for direct container-to-container connections, against the line of explain's
 * answer that covers each. The grids have allowed and refused cells of every kind, so
 * they cannot pass with nothing running (each refusal has its positive controls beside it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decider, Explanation } from '../../src/explain/index.js';
import type { PathLine } from '../../src/explain/model.js';
import { LAB_ADDR, startLab, type ClientServer, type Lab } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

const E = LAB_ADDR.external;
const I = LAB_ADDR.internal;

const POLICY = `version: 1
zones:
  external: { interfaces: [${E.hostIf}] }
  partner:  { sources: [${E.client2}] }
  # both given, both must match: the external link's addresses only when they come in on int0
  office:   { interfaces: [${I.hostIf}], sources: [203.0.113.0/24, 198.51.100.0/24] }
defaults: { published: deny, outbound: deny }
labels: { enabled: true }
egress:
  - { name: api-out, containers: web, to: [${E.client}/32], ports: [8000/tcp] }
  - { name: no-smtp, containers: web, to: [${E.client}/32], ports: [8001/tcp], action: reject }
connections:
  - { name: web-alt, from: web, to: alt, ports: [443/tcp] }
host:
  toContainers:
    - { name: no-host-admin, containers: alt, ports: [8081], action: reject }
rules:
  - { name: public-https, ports: [443/tcp], from: [zone:external] }
  - { name: partner-tls, containerPorts: [443/tcp], from: [zone:partner] }
  - { name: partner-no-web, containers: web, ports: [8080], from: [zone:partner], action: reject }
  - { name: web-from-ext, containers: web, ports: [8080], from: [198.51.100.0/24] }
  - { name: no-lan-dns, ports: [5353/udp], from: [zone:office], action: deny }
  - { name: dns-reject, ports: [5353/udp], from: [${E.client}], action: reject }
  - { name: office, from: [zone:office] }
  - { name: appnet-https, containers: web, ports: [443], from: [network:appnet] }
  - { name: appnet-no-web, containers: web, ports: [8080], from: [network:appnet], action: reject }
`;

/** Who asks: where the probe runs, the address it sends from, and the same as explain's --from. */
const SOURCES = [
  { label: 'external .2', ns: 'external', source: E.client, from: `${E.client}@${E.hostIf}` },
  { label: 'external .3', ns: 'external', source: E.client2, from: `${E.client2}@${E.hostIf}` },
  { label: 'internal', ns: 'internal', source: I.client, from: `${I.client}@${I.hostIf}` },
  { label: 'host', ns: 'host', source: undefined, from: 'host' },
] as const;

/** Published bindings: container, host port, protocol (what the container answers with). */
const PORTS = [
  { name: 'web', port: 443, protocol: 'tcp' },
  { name: 'web', port: 8080, protocol: 'tcp' },
  { name: 'alt', port: 10443, protocol: 'tcp' },
  { name: 'alt', port: 8081, protocol: 'tcp' },
  { name: 'echo', port: 5353, protocol: 'udp' },
] as const;

type Source = (typeof SOURCES)[number];
type Port = (typeof PORTS)[number];

let lab: Lab;
const files = scratch();
const servers: ClientServer[] = [];
let gateway: string;
const ip: Record<string, string> = {};

beforeAll(async () => {
  lab = await startLab();
  await lab.docker(['network', 'create', 'appnet']);
  // Routed (Docker 28's gateway mode; 20.10 stores the option, dockward acts on it): no NAT, clients dial the container.
  await lab.docker(['network', 'create', '-o', 'com.docker.network.bridge.gateway_mode_ipv4=routed', '--subnet', '172.40.0.0/16', 'rnet']);
  await Promise.all([
    lab.runHttp('rweb', { network: 'rnet', publish: ['8090:80'] }),
    lab.runHttp('web', { ports: [443], publish: ['443:443', '8080:80'] }),
    lab.runHttp('alt', { network: 'appnet', ports: [443], publish: ['10443:443', `${I.host}:8081:80`], labels: { 'dockward.rules': `allow 10443 from ${E.client}` } }),
    lab.runUdpEcho('echo', { network: 'appnet', publish: ['5353:5353/udp'] }),
  ]);
  gateway = (await lab.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])) || '172.17.0.1';
  for (const name of ['web', 'alt', 'echo', 'rweb']) ip[name] = await lab.containerIp(name);
  for (const port of [8000, 8001]) servers.push(await lab.serveHttpInClient('external', port));
  servers.push(await lab.serveHttpInClient(lab.hostNs, 8002));
  const applied = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)]);
  expect(applied.stderr).toBe('');
  expect(applied.exitCode).toBe(0);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await lab?.stop();
  files.cleanup();
});

async function explainFrom(name: string, from: string): Promise<Explanation> {
  const r = await dockward(lab, ['explain', name, '--from', from, '--json', '--policy', files.policy('policy.yaml', POLICY)]);
  expect(r.stderr, `explain ${name} --from ${from}`).toBe('');
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as Explanation;
}

/** A real connection to what explain says was dialled: did the container answer, and how did TCP end? */
async function observe(s: Source, p: Port, destination: string) {
  const opts = s.source ? { source: s.source } : {};
  if (p.protocol === 'udp') {
    const reply = await lab.udp(s.ns, destination, p.port, { ...opts, payload: 'ping' });
    return { answered: reply === `${p.name}:ping` };
  }
  const [body, tcp] = await Promise.all([
    lab.http(s.ns, `http://${destination}:${p.port}/`, opts),
    lab.tcpReset(s.ns, destination, p.port, opts),
  ]);
  return { answered: body === p.name, tcp };
}

/** What explain's verdict means on the wire for TCP: a handshake, a reset, or silence. */
const TCP_OUTCOME: Readonly<Record<string, string>> = { delivered: 'connected', rejected: 'reset', dropped: 'timeout' };
const PATH_OUTCOME: Readonly<Record<string, string>> = { allow: 'connected', reject: 'reset', deny: 'timeout' };

function decider(d: Decider | undefined): string {
  if (!d) return '?';
  if (d.kind === 'rule') return d.place;
  if (d.kind === 'default') return d.setting === 'defaults.published' ? 'default' : d.setting;
  if (d.kind === 'icc') return `icc ${d.icc ? 'on' : 'off'} ${d.network}`;
  return d.kind === 'dockward' ? d.note : d.kind;
}

describe('explain --from agrees with real connections', () => {
  it('for every source × published port: the container answers exactly when explain says allowed', async () => {
    const asked = await Promise.all(SOURCES.flatMap((s) => ['web', 'alt', 'echo'].map(async (name) => ({ s, name, e: await explainFrom(name, s.from) }))));
    const cells = PORTS.flatMap((p) => SOURCES.map((s) => {
      const e = asked.find((a) => a.s === s && a.name === p.name)!.e;
      expect(e.warnings, `${p.name} from ${s.label}`).toEqual([]);
      const b = e.bindings.find((x) => x.hostPort === p.port && x.protocol === p.protocol);
      if (!b?.answer) throw new Error(`explain ${p.name} --from ${s.from} has no answer for ${p.port}/${p.protocol}`);
      return { s, p, answer: b.answer };
    }));
    const seen = await Promise.all(cells.map(async (c) => ({ ...c, ...(await observe(c.s, c.p, c.answer.destination)) })));

    const grid: Record<string, Record<string, string>> = {};
    for (const c of seen) {
      const where = `${c.p.name} ${c.p.port}/${c.p.protocol}`;
      (grid[where] ??= {})[c.s.label] = `${c.answer.verdict} ${decider(c.answer.decidedBy)}`;
      expect(c.answered, `${where} from ${c.s.label}: explain says ${c.answer.verdict}`).toBe(c.answer.allowed);
      if (c.tcp) expect(c.tcp, `${where} from ${c.s.label}: explain says ${c.answer.verdict}`).toBe(TCP_OUTCOME[c.answer.verdict]);
    }
    console.log(JSON.stringify(grid, null, 1));
    // The grid the policy above should give; it also proves both sides were not simply silent.
    expect(grid).toEqual({
      'web 443/tcp': { 'external .2': 'delivered rules[0]', 'external .3': 'delivered rules[0]', internal: 'delivered rules[6]', host: 'delivered host' },
      'web 8080/tcp': { 'external .2': 'delivered rules[3]', 'external .3': 'rejected rules[2]', internal: 'delivered rules[6]', host: 'delivered host' },
      'alt 10443/tcp': { 'external .2': 'delivered label[0]', 'external .3': 'delivered rules[1]', internal: 'delivered rules[6]', host: 'delivered host' },
      'alt 8081/tcp': { 'external .2': 'dropped default', 'external .3': 'dropped default', internal: 'delivered rules[6]', host: 'rejected host.toContainers[0]' },
      'echo 5353/udp': { 'external .2': 'rejected rules[5]', 'external .3': 'dropped default', internal: 'dropped rules[4]', host: 'delivered host' },
    });
  });

  it('for a grid of outbound and container-to-container connections: explain\'s covering line says what a real connection finds', async () => {
    const asked = Object.fromEntries(await Promise.all(['web', 'alt', 'echo'].map(async (n) => [n, await explainFrom(n, 'host')] as const)));
    const outbound = (name: string, what: string): PathLine => {
      const line = asked[name]!.outbound.find((o) => o.family === 'ipv4')?.lines.find((l) => l.what === what);
      if (!line) throw new Error(`explain ${name}: no outbound line "${what}"`);
      return line;
    };
    const direct = (from: string, to: string, what: string): PathLine => {
      const find = (e: Explanation, direction: 'in' | 'out', peer: string) => e.peers.find((p) => p.direction === direction && p.peer === peer && p.family === 'ipv4')?.lines.find((l) => l.what === what);
      const out = find(asked[from]!, 'out', to);
      const into = find(asked[to]!, 'in', from);
      if (!out || !into) throw new Error(`explain: no direct line "${what}" from ${from} to ${to}`);
      // Both ends of the path tell the same story.
      expect({ ...into, chains: [] }, `${from} → ${to} ${what}`).toEqual({ ...out, chains: [] });
      return out;
    };
    const cells = [
      { label: `web → ${E.client}:8000`, from: 'web', to: E.client, port: 8000, line: outbound('web', `${E.client}/32 8000/tcp`) },
      { label: `web → ${E.client}:8001`, from: 'web', to: E.client, port: 8001, line: outbound('web', `${E.client}/32 8001/tcp`) },
      { label: `web → ${E.client2}:8000`, from: 'web', to: E.client2, port: 8000, line: outbound('web', 'anywhere else, other ports') },
      { label: `alt → ${E.client}:8000`, from: 'alt', to: E.client, port: 8000, line: outbound('alt', 'anywhere else, other ports') },
      { label: 'web → the host:8002', from: 'web', to: gateway, port: 8002, line: outbound('web', `the host itself (${gateway}), other ports`) },
      { label: 'web → alt:443', from: 'web', to: ip.alt!, port: 443, line: direct('web', 'alt', '443/tcp') },
      { label: 'web → alt:80', from: 'web', to: ip.alt!, port: 80, line: direct('web', 'alt', 'other ports') },
      { label: 'alt → web:80', from: 'alt', to: ip.web!, port: 80, line: direct('alt', 'web', 'any port') },
      { label: 'echo → alt:80', from: 'echo', to: ip.alt!, port: 80, line: direct('echo', 'alt', 'any port') },
    ];
    const seen = await Promise.all(cells.map(async (c) => {
      const [body, tcp] = await Promise.all([
        lab.http({ container: c.from }, `http://${c.to}:${c.port}/`),
        lab.tcpReset({ container: c.from }, c.to, c.port),
      ]);
      return { ...c, answered: body !== null, tcp };
    }));
    const grid: Record<string, string> = {};
    for (const c of seen) {
      grid[c.label] = `${c.line.action} ${decider(c.line.decidedBy)}`;
      expect(c.answered, `${c.label}: explain says ${c.line.action}`).toBe(c.line.action === 'allow');
      expect(c.tcp, `${c.label}: explain says ${c.line.action}`).toBe(PATH_OUTCOME[c.line.action]);
    }
    console.log(JSON.stringify(grid, null, 1));
    expect(grid).toEqual({
      [`web → ${E.client}:8000`]: 'allow egress[0]',
      [`web → ${E.client}:8001`]: 'reject egress[1]',
      [`web → ${E.client2}:8000`]: 'deny defaults.outbound',
      [`alt → ${E.client}:8000`]: 'deny defaults.outbound',
      'web → the host:8002': 'deny defaults.outbound',
      'web → alt:443': 'allow connections[0]',
      'web → alt:80': 'deny isolation',
      'alt → web:80': 'deny isolation',
      'echo → alt:80': 'allow icc on appnet',
    });
  });

  it('a container refused by reject through a host address sees a timeout, and explain says dropped', async () => {
    const e = await explainFrom('web', ip.echo!);
    const answer = (port: number) => {
      const a = e.bindings.find((b) => b.hostPort === port && b.family === 'ipv4')?.answer;
      if (!a) throw new Error(`explain web --from ${ip.echo}: no answer for ${port}/tcp`);
      return a;
    };
    expect(e.warnings).toEqual([]);
    const [allowed, refused] = [answer(443), answer(8080)];
    expect(allowed).toMatchObject({ allowed: true, verdict: 'delivered', decidedBy: { kind: 'rule', place: 'rules[7]' } });
    expect(refused).toMatchObject({ allowed: false, verdict: 'dropped', rejectUnseen: 'tcp-reset', decidedBy: { kind: 'rule', place: 'rules[8]' } });
    const probe = async (a: typeof allowed) => {
      const [body, tcp] = await Promise.all([
        lab.http({ container: 'echo' }, `http://${a.destination}:${a.port}/`),
        lab.tcpReset({ container: 'echo' }, a.destination, a.port),
      ]);
      return { body, tcp };
    };
    // The positive control: the same container, the same host address, the port it may use.
    expect(await probe(allowed)).toEqual({ body: 'web', tcp: 'connected' });
    expect(await probe(refused)).toEqual({ body: null, tcp: TCP_OUTCOME[refused.verdict] });
  });

  it('a routed network\'s port: explain dials the container\'s own address and port, as clients do, and agrees with them', async () => {
    const cells = await Promise.all(SOURCES.filter((s) => s.ns !== 'host').map(async (s) => {
      const e = await explainFrom('rweb', s.from);
      expect(e.warnings, `rweb from ${s.label}`).toEqual([]);
      const a = e.bindings[0]?.answer;
      if (!a) throw new Error(`explain rweb --from ${s.from}: no answer`);
      expect([a.destination, a.port]).toEqual([ip.rweb, 80]);
      const [body, tcp] = await Promise.all([lab.http(s.ns, `http://${a.destination}:${a.port}/`, { source: s.source! }), lab.tcpReset(s.ns, a.destination, a.port, { source: s.source! })]);
      return { label: s.label, said: `${a.verdict} ${decider(a.decidedBy)}`, allowed: a.allowed, answered: body === 'rweb', tcp, expected: TCP_OUTCOME[a.verdict] };
    }));
    for (const c of cells) {
      expect(c.answered, `rweb from ${c.label}: explain says ${c.said}`).toBe(c.allowed);
      expect(c.tcp, `rweb from ${c.label}: explain says ${c.said}`).toBe(c.expected);
    }
    // An allowed and a refused cell: the agreement is not two silences.
    expect(Object.fromEntries(cells.map((c) => [c.label, c.said]))).toEqual({ 'external .2': 'dropped default', 'external .3': 'dropped default', internal: 'delivered rules[6]' });
  });

  it('names the chains that are live in each table, and refuses an unknown container with close names', async () => {
    const e = await explainFrom('web', 'host');
    expect(e.chains.filter((c) => c.role === 'published').map((c) => c.table)).toEqual(['mangle', 'nat', 'filter']);
    expect(e.chains.map((c) => c.role)).toContain('outbound');
    for (const c of e.chains) {
      const live = (await lab.inHost('iptables-save', ['-t', c.table])).stdout;
      expect(live, `${c.table} ${c.chain}`).toContain(`:${c.chain} - `);
      if (c.role === 'published') expect(live).toContain('-A DOCKWARD-PUBLISH');
    }
    const text = await dockward(lab, ['explain', 'web', '--policy', files.policy('policy.yaml', POLICY)]);
    expect(text.stdout).toContain('443/tcp on every host address → web:443: allowed from zone:external (ext0) by rules[0] public-https; '
      + 'allowed from zone:partner (198.51.100.3/32) by rules[1] partner-tls; '
      + 'allowed from zone:office (203.0.113.0/24 on int0, 198.51.100.0/24 on int0) by rules[6] office; '
      + `allowed from network:appnet (${await lab.docker(['network', 'inspect', '-f', 'br-{{printf "%.12s" .Id}}', 'appnet'])}) by rules[7] appnet-https; everyone else: deny (defaults.published)`);
    // The host stands apart from the list it is not part of.
    expect(text.stdout.split('\n').filter((l) => l.startsWith('  the host itself (not governed by rules): allow by the host exemption'))).toHaveLength(2);
    const unknown = await dockward(lab, ['explain', 'wbe']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr.trim()).toBe('dockward: no running container is named "wbe" or has an id starting with it; close names: web');
  });
});

/**
 * The reachability matrix: source × destination × protocol → who answered. The layout
 * comes from the scenario alone, so both labs probe exactly the same cells; only the
 * addresses are looked up per lab.
 */
import { LAB_ADDR, type Lab } from '../../../src/lab/index.js';
import { run } from '../../../src/lab/netns.js';
import { httpProbe, udpProbe, type Runner } from '../../../src/lab/probes.js';
import {
  CONTAINERS,
  EGRESS,
  HOST_ADDRS,
  mappings,
  networkOf,
  servedPorts,
  SOURCES,
  type Family,
  type Placed,
  type Proto,
  type Source,
} from './scenario.js';

export type Destination =
  | { kind: 'published'; target: string; port: number; proto: Proto; via: string; family: Family }
  | { kind: 'direct'; target: string; port: number; proto: Proto; family: Family }
  | { kind: 'egress'; family: Family };

export interface Probe {
  readonly key: string;
  readonly source: Source;
  readonly dest: Destination;
  /** Row label within its source's table. */
  readonly label: string;
}

/** A cell: the name of the container that answered, how egress left ('masqueraded' / 'own address'), or null for silence. */
export type Matrix = Map<string, string | null>;

const bracket = (addr: string, family: Family) => (family === 6 ? `[${addr}]` : addr);

function destinationsFor(source: Source): { dest: Destination; label: string }[] {
  const out: { dest: Destination; label: string }[] = [];
  const vias = HOST_ADDRS.filter((h) => {
    if (source.kind === 'neighbour') return h.loopback && h.family === 4;
    return source.kind === 'host' || !h.loopback;
  });
  for (const c of CONTAINERS) {
    for (const m of (c.publish ?? []).flatMap(mappings)) {
      for (const h of vias) {
        out.push({
          dest: { kind: 'published', target: c.name, port: m.hostPort, proto: m.proto, via: h.addr, family: h.family },
          label: `${c.name} ${m.hostPort}/${m.proto} @${bracket(h.addr, h.family)}`,
        });
      }
    }
  }
  if (source.kind === 'neighbour') return out;
  for (const c of CONTAINERS) {
    const families: Family[] = networkOf(c).ipv6 ? [4, 6] : [4];
    for (const family of families) {
      for (const { port, proto } of servedPorts(c)) {
        out.push({ dest: { kind: 'direct', target: c.name, port, proto, family }, label: `${c.name} ${port}/${proto} direct v${family}` });
      }
    }
  }
  if (source.kind === 'container') {
    for (const family of [4, 6] as const) {
      out.push({ dest: { kind: 'egress', family }, label: `egress v${family} → ${bracket(EGRESS[family], family)}:${EGRESS.port}` });
    }
  }
  return out;
}

/** Every cell of the matrix, in print order. */
export function layout(): Probe[] {
  return SOURCES.flatMap((source) =>
    destinationsFor(source).map(({ dest, label }) => ({ key: `${source.label} | ${label}`, source, dest, label })));
}

function runnerFor(lab: Lab, placed: Placed, source: Source): Runner {
  if (source.ns) {
    const ns = source.ns;
    return (cmd, args, opts) => lab.exec(ns, cmd, args, opts);
  }
  // The pid is looked up once: lab.exec({ container }) would ask dockerd on every probe.
  const pid = placed.pid[source.label];
  return (cmd, args, opts) => run('nsenter', [`--net=/proc/${pid}/ns/net`, '--', cmd, ...args], opts);
}

async function probeOne(lab: Lab, placed: Placed, p: Probe): Promise<string | null> {
  const r = runnerFor(lab, placed, p.source);
  const d = p.dest;
  if (d.kind === 'egress') {
    const seen = await httpProbe(r, `http://${bracket(EGRESS[d.family], d.family)}:${EGRESS.port}/`);
    if (seen === null) return null;
    if (seen === (d.family === 4 ? LAB_ADDR.external.host : LAB_ADDR.external.host6)) return 'masqueraded';
    return seen === placed.addr[p.source.label]?.[d.family] ? 'own address' : `from ${seen}`;
  }
  const host = d.kind === 'published' ? d.via : placed.addr[d.target]?.[d.family];
  if (!host) throw new Error(`${d.target} has no IPv${d.family} address`);
  if (d.proto === 'udp') {
    const reply = await udpProbe(r, host, d.port);
    return reply === null ? null : reply.replace(/:ping$/, '');
  }
  return httpProbe(r, `http://${bracket(host, d.family)}:${d.port}/`);
}

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/**
 * Probes `probes` in `lab`, `concurrency` at a time (each refusal waits out the 1 s
 * timeout, so parallelism is what keeps the file short).
 */
export async function measure(lab: Lab, placed: Placed, probes: readonly Probe[], concurrency = 32): Promise<Matrix> {
  const values = await pool(probes.map((p) => () => probeOne(lab, placed, p)), concurrency);
  return new Map(probes.map((p, i) => [p.key, values[i]!]));
}

/**
 * An answer proves reachability; silence under load may be a slow process start. So a
 * cell answered in either pass counts as reachable.
 */
export function merge(first: Matrix, again: Matrix): Matrix {
  const out = new Map(first);
  for (const [k, v] of again) if (v !== null) out.set(k, v);
  return out;
}

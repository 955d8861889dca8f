/**
 * One backend's figures at one inventory size, measured inside a private network namespace
 * (the parent starts this file under `unshare -n`, so the machine's own firewall is never
 * touched), in a fresh process per size:
 *   - through the daemon's path (daemon-like.ts): a full resync, then events — one
 *     container starting, then stopping, 50 times — from the event callback to the last
 *     restore's return, next to restoring that container's own chains alone; the deferred cleanup;
 *     the repair after a flush, from the flush to the rules back and to their read-back; the process's RSS;
 *   - full apply (as the daemon applies: save, plan, restore — the rules in force — and
 *     with the verify that follows) next to the bare iptables-restore of the same text, rendered beforehand:
 *     alternated, median of three each; read-back.
 * Prints one JSON line.
 */
import { execa } from 'execa';
import { compile, DEFAULT_OPTIONS } from '../compile/index.js';
import { CompileCache } from '../compile/cache.js';
import { ownChains } from '../compile/names.js';
import { applyRuleset, flushFamily, liveDrift } from '../dataplane/apply.js';
import { systemIptables, type Backend, type Iptables } from '../dataplane/iptables.js';
import type { Inventory } from '../inventory/types.js';
import { parsePolicy } from '../policy/load.js';
import type { Policy } from '../policy/types.js';
import { renderChain } from '../ruleset/render.js';
import { renderRuleset } from '../ruleset/plan.js';
import { TABLE_ORDER, type Ruleset } from '../ruleset/types.js';
import { DaemonLike } from './daemon-like.js';
import { BENCH_IPSETS, BENCH_POLICY_YAML, BENCH_SET, container, syntheticInventory } from './synthetic.js';
import { median, percentile, timed } from './stats.js';

/**
 * Starts and stops per size: 100 where the targets are judged, so that the p99 is not just
 * the slowest of them; fewer at 10,000, where each costs seconds on nft.
 */
const eventsAt = (size: number) => (size >= 10_000 ? 10 : 100);
/**
 * Start/stop pairs (and floors) run before the counted ones. The first event after the
 * resync is the process's first hot apply, which runs code the JIT has not compiled yet
 * (~80 ms more at 1,000 on nft, once per daemon lifetime): reported on its own, not in the
 * percentiles of the steady state.
 */
const WARMUP = 3;
/** Stops between two cleanups: the daemon batches them (one 2 s after the last stop). */
const CLEANUP_EVERY = 10;
const OPTIONS = { ...DEFAULT_OPTIONS, ipsets: BENCH_IPSETS };

async function flushAll(ipt: Iptables): Promise<void> {
  for (const family of ['ipv4', 'ipv6'] as const) await flushFamily(ipt, family);
}

/** One container's own chains, in every table and family, as restore text per family (and the text that removes them). */
function ownChainTexts(rulesets: readonly Ruleset[], id: string) {
  const names = new Set(ownChains(id).map(([name]) => name));
  return rulesets.map((r) => {
    const blocks = TABLE_ORDER.flatMap((table) => r.tables[table].chains.filter((c) => names.has(c.name)).map((c) => ({ table, chain: c })));
    const text = (body: (c: (typeof blocks)[number]) => string[]) => TABLE_ORDER.flatMap((table) => {
      const here = blocks.filter((b) => b.table === table);
      return here.length === 0 ? [] : [`*${table}`, ...here.map((b) => `:${b.chain.name} - [0:0]`), ...here.flatMap(body), 'COMMIT'];
    }).join('\n');
    return {
      family: r.family, add: `${text((b) => [...renderChain(b.chain).lines])}\n`,
      flush: `${text((b) => [`-F ${b.chain.name}`])}\n`, remove: `${text((b) => [`-X ${b.chain.name}`])}\n`,
    };
  });
}

/**
 * The floor of an incremental apply: one container's own chains restored alone (both
 * families side by side, as the daemon applies); then, as the floor of a stop, the same
 * chains flushed alone through iptables-restore (a deletion: on nft every transaction
 * that deletes costs several times one that adds, and iptables-nft-restore makes one per
 * table — what the daemon's stop avoids with one nft transaction); then removed (untimed).
 */
async function oneContainerFloor(ipt: Iptables, policy: Policy, base: Inventory, index: number): Promise<{ ms: number; flushMs: number; bytes: number }> {
  const other = container(index);
  const { rulesets } = compile({ ...base, containers: [...base.containers, other] }, policy, OPTIONS);
  const texts = ownChainTexts(rulesets, other.id);
  const [, ms] = await timed(async () => { await Promise.all(texts.map((t) => ipt.restore(t.family, t.add))); });
  const [, flushMs] = await timed(async () => { await Promise.all(texts.map((t) => ipt.restore(t.family, t.flush))); });
  for (const t of texts) await ipt.restore(t.family, t.remove);
  return { ms, flushMs, bytes: texts.reduce((n, t) => n + t.add.length, 0) };
}

/** `ipt` as one-off commands run it, for the floors; the daemon's own keeps its restore programs started ahead (dataplane/program.ts). */
async function daemonFigures(ipt: Iptables, policy: Policy, base: Inventory, size: number) {
  await flushAll(ipt);
  const daemon = new DaemonLike(systemIptables(ipt.backend, { standby: true }), policy, base);
  const resync = await daemon.event('start');
  const start: number[] = [], stop: number[] = [], cleanup: number[] = [], floor: number[] = [], flushFloor: number[] = [];
  const bytes = { start: [] as number[], stop: [] as number[], cleanup: [] as number[], floor: [] as number[] };
  const events = eventsAt(size);
  let firstStart = NaN;
  for (let k = 0; k < WARMUP; k++) {
    const extra = container(size + 3 * events + k);
    const on = await daemon.event(`docker:container:start:${extra.id}`, { ...base, containers: [...base.containers, extra] });
    if (k === 0) firstStart = on.ms;
    await daemon.event(`docker:container:die:${extra.id}`, base);
    await oneContainerFloor(ipt, policy, base, size + 3 * events + WARMUP + k);
  }
  if (daemon.deferred) await daemon.cleanup();
  for (let k = 0; k < events; k++) {
    const extra = container(size + k);
    const on = await daemon.event(`docker:container:start:${extra.id}`, { ...base, containers: [...base.containers, extra] });
    const off = await daemon.event(`docker:container:die:${extra.id}`, base);
    start.push(on.ms); bytes.start.push(on.bytes);
    stop.push(off.ms); bytes.stop.push(off.bytes);
    if ((k + 1) % CLEANUP_EVERY === 0 && daemon.deferred) {
      const c = await daemon.cleanup();
      cleanup.push(c.ms); bytes.cleanup.push(c.bytes);
    }
    // A container the events never used, so its chains are referenced by nothing.
    const f = await oneContainerFloor(ipt, policy, base, size + events + k);
    floor.push(f.ms); flushFloor.push(f.flushMs); bytes.floor.push(f.bytes);
  }
  const rssMB = process.memoryUsage().rss / 1e6;
  const repair = await daemon.repairAfter(async () => {
    await execa(`iptables-${ipt.backend}`, ['-F']);
    await execa(`iptables-${ipt.backend}`, ['-t', 'nat', '-F']);
  });
  daemon.stop();
  const p = (v: number[], q: number) => percentile(v, q);
  return {
    resync: resync.ms, rssMB, repair: repair.back, repairVerified: repair.verified, firstStart, events, warmup: WARMUP,
    startP50: p(start, 50), startP99: p(start, 99), stopP50: p(stop, 50), stopP99: p(stop, 99), floorP50: p(floor, 50), floorP99: p(floor, 99), flushFloorP50: p(flushFloor, 50),
    cleanupP50: p(cleanup, 50), startBytes: p(bytes.start, 50), stopBytes: p(bytes.stop, 50), cleanupBytes: p(bytes.cleanup, 50), floorBytes: p(bytes.floor, 50),
  };
}

/** Full apply next to its floor, alternating which goes first, median of three; the text is rendered before any timing. */
async function fullFigures(ipt: Iptables, rulesets: readonly Ruleset[]) {
  const texts = rulesets.map((r) => ({ family: r.family, text: renderRuleset(r) }));
  const floor: number[] = [], verified: number[] = [], unverified: number[] = [], readback: number[] = [];
  const runs: Record<string, () => Promise<void>> = {
    floor: async () => { for (const t of texts) await ipt.restore(t.family, t.text); },
    verified: async () => { for (const r of rulesets) await applyRuleset(ipt, r); },
    unverified: async () => { for (const r of rulesets) await applyRuleset(ipt, r, Date.now, { verify: false }); },
  };
  const samples: Record<string, number[]> = { floor, verified, unverified };
  for (let k = 0; k < 3; k++) {
    const order = k % 2 === 0 ? ['floor', 'verified', 'unverified'] : ['unverified', 'verified', 'floor'];
    for (const name of order) {
      await flushAll(ipt);
      samples[name]!.push((await timed(runs[name]!))[1]);
    }
    readback.push((await timed(async () => { for (const r of rulesets) await liveDrift(ipt, r); }))[1]);
  }
  await flushAll(ipt);
  return { floor: median(floor), inForce: median(unverified), withVerify: median(verified), readback: median(readback) };
}

async function measure(ipt: Iptables, size: number) {
  const parsed = parsePolicy(BENCH_POLICY_YAML, 'bench');
  if (!parsed.ok) throw new Error('bench policy invalid');
  // The ipset zone's set, in this namespace only.
  await execa('ipset', ['create', BENCH_SET, 'hash:net', 'family', 'inet', '-exist']);
  const inventory = syntheticInventory(size);
  // Compiled as the daemon compiles, through its cache: chains remember their rendering, so
  // the plan and the read-back do not render again what the floor's text was rendered from.
  const { rulesets, stats } = compile(inventory, parsed.policy, OPTIONS, new CompileCache());
  const daemon = await daemonFigures(ipt, parsed.policy, inventory, size);
  const full = await fullFigures(ipt, rulesets);
  return { size, rules: stats.rules, ...full, ...daemon };
}

const [backend, size] = process.argv.slice(2);
const ipt = systemIptables(backend as Backend);
console.log(JSON.stringify({ backend, ...(await measure(ipt, Number(size))) }));

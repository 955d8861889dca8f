/**
 * One backend's figures, measured inside a private network namespace (the parent starts
 * this file under `unshare -n`, so the machine's own firewall is never touched):
 * full apply next to the bare iptables-restore of the same text, incremental applies
 * after one container starts or stops next to restoring that container's chains alone,
 * read-back, and the repair after a flush. Prints one JSON line per inventory size.
 */
import { execa } from 'execa';
import { CompileCache } from '../compile/cache.js';
import { compile, DEFAULT_OPTIONS } from '../compile/index.js';
import { containerChain } from '../compile/names.js';
import { applyIncremental, applyRuleset, assumedAfter, flushFamily, liveDrift } from '../dataplane/apply.js';
import { systemIptables, type Backend, type Iptables } from '../dataplane/iptables.js';
import type { Inventory } from '../inventory/types.js';
import { parsePolicy } from '../policy/load.js';
import type { Policy } from '../policy/types.js';
import { renderChain } from '../ruleset/render.js';
import { renderRuleset } from '../ruleset/plan.js';
import type { Ruleset } from '../ruleset/types.js';
import { BENCH_POLICY_YAML, container, syntheticInventory } from './synthetic.js';
import { percentile, timed } from './stats.js';

const EVENTS = 50;

async function flushAll(ipt: Iptables): Promise<void> {
  for (const family of ['ipv4', 'ipv6'] as const) await flushFamily(ipt, family);
}

async function restoreAll(ipt: Iptables, rulesets: readonly Ruleset[]): Promise<void> {
  for (const r of rulesets) await ipt.restore(r.family, renderRuleset(r));
}

/** The floor of an incremental apply: one container's own chains restored alone, then removed (untimed). */
async function oneContainerFloor(ipt: Iptables, ruleset: Ruleset, id: string): Promise<number> {
  const name = containerChain(id);
  const blocks = (['mangle', 'filter', 'nat'] as const).flatMap((table) => {
    const chain = ruleset.tables[table].chains.find((c) => c.name === name);
    return chain ? [`*${table}`, `:${name} - [0:0]`, ...renderChain(chain).lines, 'COMMIT'] : [];
  });
  const [, took] = await timed(() => ipt.restore('ipv4', `${blocks.join('\n')}\n`));
  const cleanup = blocks.filter((l) => l.startsWith('*') || l.startsWith(':') || l === 'COMMIT')
    .flatMap((l) => (l === 'COMMIT' ? [`-X ${name}`, 'COMMIT'] : [l]));
  await ipt.restore('ipv4', `${cleanup.join('\n')}\n`);
  return took;
}

async function incremental(ipt: Iptables, policy: Policy, base: Inventory, size: number) {
  const cache = new CompileCache();
  let assumed = assumedAfter(compile(base, policy, DEFAULT_OPTIONS, cache).rulesets[0]!);
  const starts: number[] = [];
  const stops: number[] = [];
  const bytes: number[] = [];
  const floors: number[] = [];
  for (let k = 0; k < EVENTS; k++) {
    const extra = container(size + k);
    const grown = { ...base, containers: [...base.containers, extra] };
    for (const [inventory, times] of [[grown, starts], [base, stops]] as const) {
      const [result, took] = await timed(async () => {
        const ruleset = compile(inventory, policy, DEFAULT_OPTIONS, cache).rulesets[0]!;
        const applied = await applyIncremental(ipt, ruleset, assumed);
        assumed = assumedAfter(applied.applied, applied.live);
        return applied;
      });
      times.push(took);
      bytes.push(result.restoreBytes);
    }
    // The floor: a container the incremental run never used, so its chains are referenced by nothing.
    const other = container(size + EVENTS + k);
    floors.push(await oneContainerFloor(ipt, compile({ ...base, containers: [...base.containers, other] }, policy).rulesets[0]!, other.id));
  }
  return { startP50: percentile(starts, 50), startP99: percentile(starts, 99), stopP50: percentile(stops, 50), stopP99: percentile(stops, 99),
    bytesP50: percentile(bytes, 50), floorP50: percentile(floors, 50) };
}

async function measure(ipt: Iptables, size: number) {
  const parsed = parsePolicy(BENCH_POLICY_YAML, 'bench');
  if (!parsed.ok) throw new Error('bench policy invalid');
  const inventory = syntheticInventory(size);
  const { rulesets, stats } = compile(inventory, parsed.policy);
  await flushAll(ipt);
  const [, floor] = await timed(() => restoreAll(ipt, rulesets));
  await flushAll(ipt);
  const [, full] = await timed(async () => { for (const r of rulesets) await applyRuleset(ipt, r, Date.now, { verify: false }); });
  const [, readback] = await timed(async () => { for (const r of rulesets) await liveDrift(ipt, r); });
  const inc = await incremental(ipt, parsed.policy, inventory, size);
  await execa(`iptables-${ipt.backend}`, ['-F']);
  await execa(`iptables-${ipt.backend}`, ['-t', 'nat', '-F']);
  const [, repair] = await timed(() => applyRuleset(ipt, rulesets[0]!));
  await flushAll(ipt);
  return { size, rules: stats.rules, floor, full, readback, repair, ...inc };
}

const [backend, ...sizes] = process.argv.slice(2);
const ipt = systemIptables(backend as Backend);
for (const size of sizes) console.log(JSON.stringify({ backend, ...(await measure(ipt, Number(size))) }));

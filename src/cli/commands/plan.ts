/**
 * plan: the restore text apply would load and the changes against what is live. With
 * --inventory it needs neither Docker nor root, and shows the whole ruleset.
 */
import { compile, DEFAULT_OPTIONS } from '../../compile/index.js';
import { setRestoreText, systemIpset } from '../../dataplane/ipset.js';
import { parseSave, type LiveState } from '../../ruleset/parse.js';
import { planRestore, type Change } from '../../ruleset/plan.js';
import { planExclusive } from '../../ruleset/exclusive.js';
import { chainLines } from '../../ruleset/render.js';
import type { Ruleset } from '../../ruleset/types.js';
import type { Request } from '../args.js';
import { inventoryOf, iptablesOf, policyOf } from '../context.js';

function describe(change: Change, desired: Ruleset, live: LiveState): string[] {
  const head = `# ${change.kind} ${change.table}/${change.chain}`;
  if (change.kind !== 'write-chain') return [head];
  const before = live.get(change.table)?.get(change.chain)?.rules.map((r) => `#   - -A ${change.chain} ${r.text}`) ?? [];
  const chain = desired.tables[change.table].chains.find((c) => c.name === change.chain);
  const after = chain ? chainLines(chain).map((l) => `#   + ${l}`) : [];
  return [head, ...before, ...after];
}

export async function plan(request: Request): Promise<number> {
  const [policy, inventory] = await Promise.all([policyOf(request), inventoryOf(request)]);
  // Which ipsets exist decides which rules are in; without ipset (no root) none are known.
  const compiled = compile(inventory, policy, { ...DEFAULT_OPTIONS, ipsets: await systemIpset().list().catch(() => new Map()) });
  const ipt = request.inventory ? undefined : await iptablesOf(request);
  const out: string[] = [`# dockward plan: policy ${policy.origin}; ${compiled.stats.containers} containers, ${compiled.stats.mappings} mappings, ${compiled.stats.rules} rules`];
  for (const note of compiled.notes) out.push(`# note: ${note}`);
  for (const ruleset of compiled.rulesets) {
    const live = ipt ? parseSave(await ipt.save(ruleset.family)) : new Map();
    // Exclusive host mode loads whole tables: its plan is the whole ruleset whenever anything differs.
    const p = ruleset.exclusive ? planExclusive(ruleset, live) : planRestore(ruleset, live);
    out.push(`# ${ruleset.family}${ipt ? ` (backend ${ipt.backend})` : ' (not compared with live rules)'}: ${p.changes.length === 0 ? 'in sync, nothing to load' : `${p.changes.length} changes`}`);
    if (ipt) for (const c of p.changes) out.push(...describe(c, ruleset, live));
    if (p.text) out.push(p.text.trimEnd());
  }
  // Big zones live in ipsets of dockward's own, loaded before the rules that match them.
  for (const set of policy.ownSets ?? []) {
    out.push(`# ipset ${set.name} (${set.family}, ${set.cidrs.length} entries): ipset restore input`, setRestoreText(set).trimEnd());
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

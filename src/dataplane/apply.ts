/**
 * Make the live rules equal the desired ones: read back, plan the difference, restore it,
 * read back again and verify by hash tags. A failed restore leaves whatever the kernel
 * held (each table commits whole or not at all); the caller retries.
 */
import { parseSave, type LiveState, type LiveTable } from '../ruleset/parse.js';
import { planFlush, planRestore, type Change, type Plan } from '../ruleset/plan.js';
import { planExclusive } from '../ruleset/exclusive.js';
import type { Chain, Family, Rule, Ruleset, TableName, Tables } from '../ruleset/types.js';
import { isOwnedChain } from '../compile/names.js';
import type { ChainRef } from './nft-flush.js';
import { advanceLive, expectedLive } from '../ruleset/expected-live.js';
import { RestoreError, type Iptables } from './iptables.js';

export interface ApplyResult {
  readonly family: Family;
  /** What is now in force: the desired ruleset, less the rules of protocols the kernel refused. */
  readonly applied: Ruleset;
  /** Protocols whose rules were left out because the kernel refused them (e.g. no SCTP). */
  readonly skipped: readonly string[];
  readonly changes: readonly Change[];
  /** Bytes of restore input written (0: nothing differed, no restore was run). */
  readonly restoreBytes: number;
  /** 'nft': the plan only emptied chains, and nft did it in one transaction (dataplane/nft-flush.ts). */
  readonly through?: 'nft';
  readonly durationMs: number;
}

export class VerifyError extends Error {
  constructor(readonly family: Family, readonly remaining: readonly Change[]) {
    super(`after restore the live ${family} rules still differ: ${remaining.map((c) => `${c.kind} ${c.table}/${c.chain}`).join(', ')}`);
    this.name = 'VerifyError';
  }
}

/**
 * What differs between the live rules and the desired ones. `tolerateDeferred`: leftovers
 * a hot apply left for its cleanup (emptied chains, stale lines of set chains that lead to
 * them) are not drift.
 */
export async function liveDrift(ipt: Iptables, desired: Ruleset, tolerateDeferred = false): Promise<readonly Change[]> {
  return (await readLive(ipt, desired, tolerateDeferred)).changes;
}

/** The live rules as read back, and what differs from the desired ones (liveDrift, with the state it read). */
export async function readLive(ipt: Iptables, desired: Ruleset, tolerateDeferred = false): Promise<{ live: LiveState; changes: readonly Change[] }> {
  const live = parseSave(await ipt.save(desired.family));
  const plan = desired.exclusive ? planExclusive(desired, live) : planRestore(desired, live, { deferDeletes: tolerateDeferred });
  return { live, changes: plan.changes };
}

/** Protocols the rest of the ruleset can do without when the kernel lacks their match module. */
const OPTIONAL_PROTOCOLS = ['sctp'];

/** The optional protocol of the restore line the kernel refused, if that is what it refused. */
export function refusedProtocol(error: unknown, text: string): string | undefined {
  if (!(error instanceof RestoreError) || error.line === undefined) return undefined;
  const line = text.split('\n')[error.line - 1] ?? '';
  return OPTIONAL_PROTOCOLS.find((p) => line.includes(`-p ${p} `));
}

export function withoutProtocol(ruleset: Ruleset, protocol: string): Ruleset {
  const keep = (r: Rule) => !r.matches.some((m) => m.kind === 'protocol' && m.protocol === protocol);
  const tables = Object.fromEntries(Object.entries(ruleset.tables).map(([name, t]) =>
    [name, { ...t, chains: t.chains.map((c) => ({ ...c, rules: c.rules.filter(keep) })) }])) as unknown as Tables;
  return { ...ruleset, tables };
}

/**
 * Apply, and when the kernel refuses the rules of an optional protocol (no SCTP module),
 * apply again without them: that protocol's publications fail alone, never the whole load.
 */
export interface FullApplyOptions {
  /** Read the rules back after a write (default true). */
  readonly verify?: boolean;
  /** Called just before a restore is written; not when nothing differs. */
  readonly beforeWrite?: () => void;
}

export async function applyRuleset(ipt: Iptables, desired: Ruleset, now: () => number = Date.now, options: FullApplyOptions = {}): Promise<ApplyResult> {
  const started = now();
  const skipped: string[] = [];
  let ruleset = desired;
  for (;;) {
    const live = parseSave(await ipt.save(ruleset.family));
    // Exclusive host mode replaces the tables whole (ruleset/exclusive.ts).
    const plan = ruleset.exclusive ? planExclusive(ruleset, live) : planRestore(ruleset, live);
    try {
      if (plan.text !== '') {
        options.beforeWrite?.();
        await ipt.restore(ruleset.family, plan.text, { whole: ruleset.exclusive === true });
      }
    } catch (error) {
      const protocol = refusedProtocol(error, plan.text);
      if (!protocol || skipped.includes(protocol)) throw error;
      skipped.push(protocol);
      ruleset = withoutProtocol(ruleset, protocol);
      continue;
    }
    if (plan.text !== '' && options.verify !== false) {
      const remaining = await liveDrift(ipt, ruleset);
      if (remaining.length > 0) throw new VerifyError(ruleset.family, remaining);
    }
    return { family: ruleset.family, applied: ruleset, skipped, changes: plan.changes, restoreBytes: plan.text.length, durationMs: now() - started };
  }
}

/**
 * The hot path after an event: plan against the state the last apply left (no
 * iptables-save), restore what differs, return. An unchanged desired state runs no exec at
 * all. Verification is the caller's to schedule off this path; a restore that fails
 * (the live state was not what was assumed) is the caller's cue for a full apply.
 * `tidy`: the batched cleanup — the deletions earlier events left are made now, every chain
 * compared (the ones they left stale lines in were applied as desired, so none is skipped).
 */
export async function applyIncremental(ipt: Iptables, desired: Ruleset, assumed: Assumed, now: () => number = Date.now,
  { tidy = false } = {}): Promise<ApplyResult & { live: LiveState; deferred: boolean }> {
  const started = now();
  const plan = planRestore(desired, assumed.live, tidy ? {} : { unchanged: assumed.chains, deferDeletes: true });
  const through = plan.text === '' ? undefined : await write(ipt, desired.family, plan);
  const live = advanceLive(assumed.live, desired, plan);
  return {
    family: desired.family, applied: desired, skipped: [], changes: plan.changes, restoreBytes: plan.text.length,
    durationMs: now() - started, live, deferred: plan.deferred === true, ...(through ? { through } : {}),
  };
}

/**
 * The repair of tables whose canary went, without the iptables-save first (on nft it costs
 * as much as a third of the repair): planned against what the last apply left, with those
 * tables' built-in chains listed as they are now (`iptables -S`, one per chain, a few ms) and
 * dockward's own chains in them taken as gone. Every desired chain of those tables is then
 * declared and written whole, which is right whatever each held; the hooks are put back
 * first, by what the listing shows, so none is ever there twice; a foreign rule is left alone.
 * The operator's chains (DOCKER-USER) are taken to be there, as a flush leaves them: if one
 * was deleted, the restore fails and the caller applies in full. The read-back follows.
 */
export async function repairWiped(ipt: Iptables, desired: Ruleset, assumed: Assumed, tables: readonly TableName[], beforeWrite?: () => void,
  now: () => number = Date.now): Promise<ApplyResult> {
  const started = now();
  const live: LiveState = new Map(assumed.live);
  await Promise.all(tables.map(async (name) => live.set(name, await wipedTable(ipt, desired, name, assumed.live.get(name)))));
  const plan = planRestore(desired, live);
  if (plan.text !== '') {
    beforeWrite?.();
    await ipt.restore(desired.family, plan.text);
  }
  return { family: desired.family, applied: desired, skipped: [], changes: plan.changes, restoreBytes: plan.text.length, durationMs: now() - started };
}

/** A wiped table as far as planning its repair goes: its hooked built-in chains as listed now, the operator's chains as last applied, no chain of dockward's. */
async function wipedTable(ipt: Iptables, desired: Ruleset, name: TableName, assumed: LiveTable | undefined): Promise<LiveTable> {
  const out: LiveTable = new Map();
  for (const [chain, rules] of assumed ?? []) if (!isOwnedChain(chain)) out.set(chain, rules);
  const builtins = new Set(desired.tables[name].hooks.map((h) => h.builtin));
  for (const [chain, rules] of assumed ?? []) if (!isOwnedChain(chain) && rules.rules.some((r) => r.tag !== undefined)) builtins.add(chain);
  await Promise.all([...builtins].map(async (builtin) => {
    const listed = await ipt.listChain(desired.family, name, builtin);
    if (listed === undefined) throw new Error(`${desired.family} ${name}/${builtin} cannot be listed`);
    const rules = listed.split('\n').filter((l) => l.startsWith(`-A ${builtin} `));
    const parsed = parseSave(`*${name}\n:${builtin} ACCEPT [0:0]\n${rules.join('\n')}\nCOMMIT\n`).get(name)?.get(builtin);
    out.set(builtin, parsed ?? { name: builtin, rules: [] });
  }));
  return out;
}

/**
 * A stop's plan only empties chains: on nft that goes through the backend's own flush
 * (one transaction instead of one per table, dataplane/nft-flush.ts); anything else is restored.
 */
async function write(ipt: Iptables, family: Family, plan: Plan): Promise<'nft' | undefined> {
  const flushes = ipt.flushChains && onlyFlushes(plan.changes);
  if (!flushes) return void (await ipt.restore(family, plan.text));
  await ipt.flushChains!(family, flushes);
  return 'nft';
}

/** The chains a plan empties, when emptying chains is all it does (every line of its text is a change). */
export function onlyFlushes(changes: readonly Change[]): ChainRef[] | undefined {
  if (changes.length === 0 || !changes.every((c) => c.kind === 'flush-chain')) return undefined;
  return changes.map(({ table, chain }) => ({ table, chain }));
}

/** What the last apply left in force, as planning needs it: the live state and the chain objects that are in it. */
export interface Assumed {
  readonly live: LiveState;
  readonly chains: ReadonlySet<Chain>;
}

export function assumedAfter(applied: Ruleset, live: LiveState = expectedLive(applied)): Assumed {
  const chains = new Set<Chain>();
  for (const table of Object.values(applied.tables)) for (const chain of table.chains) chains.add(chain);
  return { live, chains };
}

export async function flushFamily(ipt: Iptables, family: Family): Promise<readonly Change[]> {
  const plan = planFlush(parseSave(await ipt.save(family)));
  if (plan.text !== '') await ipt.restore(family, plan.text);
  return plan.changes;
}

/**
 * Desired ruleset + live state (parsed iptables-save) → the restore input that makes live
 * equal desired, touching only what differs. Chains are compared by hash tags, never by
 * text; a chain whose tags match is not written, so an unchanged state needs no restore.
 * Hooks sit first in their built-in chain; a missing, moved or duplicated hook is deleted
 * by its exact saved text and inserted again at the top, inside the same table commit.
 */
import { CANARY, isOwnedChain } from '../compile/names.js';
import { hookTag } from './hash.js';
import { filledOwnedCount, liveTags, type LiveChain, type LiveRule, type LiveState, type LiveTable } from './parse.js';
import { renderChain, ruleLine, type RenderedChain } from './render.js';
import { dockerLeftovers } from './takeover.js';
import { TABLE_ORDER, type Chain, type Hook, type Ruleset, type Table, type TableName } from './types.js';

export type Change =
  | { readonly kind: 'write-chain' | 'edit-chain' | 'append-chain' | 'delete-chain' | 'flush-chain' | 'create-chain'; readonly table: TableName; readonly chain: string }
  | { readonly kind: 'place-hook'; readonly table: TableName; readonly chain: string }
  | { readonly kind: 'take-over'; readonly table: TableName; readonly chain: string };

export interface Plan {
  /** iptables-restore --noflush input; empty when nothing differs. */
  readonly text: string;
  readonly changes: readonly Change[];
  /** Deletions left for later (PlanOptions.deferDeletes): a cleanup apply is due. */
  readonly deferred?: boolean;
  /** The desired chains the plan writes, edits or appends to, by `table/name`: what the live state becomes. */
  readonly written: ReadonlyMap<string, Chain>;
  /** For each set chain only appended to, by `table/name`: the rules appended, as they will be live. */
  readonly appended: ReadonlyMap<string, readonly LiveRule[]>;
}

const EMPTY: LiveTable = new Map();

/**
 * A set chain that exists already is edited line by line: live rules whose tag is not
 * wanted (or that carry none) are deleted by their exact text, wanted rules missing live
 * are appended. One container's start adds one line, however many containers there are.
 */
function setEdits(chain: Chain, desired: RenderedChain, live: LiveChain, deferrable: Deferrable | undefined): SetEdits {
  const present = liveTags(live);
  const appends: string[] = [];
  const added: LiveRule[] = [];
  let kept = 0;
  desired.tags.forEach((tag, i) => {
    if (present.has(tag)) kept++;
    else {
      appends.push(desired.lines[i]!);
      added.push({ text: desired.lines[i]!.slice(`-A ${chain.name} `.length), tag });
    }
  });
  // Every live line is wanted (set chains hold distinct rules): nothing to delete, no need to look at each.
  if (kept === live.rules.length && present.size === live.rules.length) return { appends, added, deletes: [], deferred: false };
  // Stale lines that do no harm meanwhile wait for the cleanup, whatever they are.
  if (deferrable && chain.staleMayWait) return { appends, added, deletes: [], deferred: true };
  const wanted = new Set(desired.tags);
  const seen = new Set<string>();
  const deletes: string[] = [];
  const waiting: string[] = [];
  for (const rule of live.rules) {
    if (rule.tag !== undefined && wanted.has(rule.tag) && !seen.has(rule.tag)) seen.add(rule.tag);
    else (deferrable?.(rule) ? waiting : deletes).push(`-D ${chain.name} ${rule.text}`);
  }
  // A chain edited anyway is left exactly as desired (what the plan says it leaves): its waiting lines go too.
  if (deletes.length > 0) return { appends, added, deletes: [...deletes, ...waiting], deferred: false };
  return { appends, added, deletes, deferred: waiting.length > 0 };
}

/** Whether a stale live line may stay for the cleanup (PlanOptions.deferDeletes). */
type Deferrable = (rule: LiveRule) => boolean;

/** The owned chain a saved rule jumps to (a jump to a chain takes no options: it ends the line); undefined for anything else. */
function jumpTarget(text: string): string | undefined {
  const target = / -[jg] (\S+)$/.exec(text)?.[1];
  return target !== undefined && isOwnedChain(target) ? target : undefined;
}

/**
 * A stale line (of a set whose lines may not all wait, Chain.staleMayWait) may wait for the
 * cleanup only when it jumps to an owned chain this table will not hold rules in (a stopped
 * container's: emptied by the same plan or an earlier one), so it does nothing meanwhile. A
 * stale verdict, or a jump into a chain still in force (a container that moved to another
 * address), would serve whoever gets that address next: it goes now.
 */
function deferrableIn(desired: Table): Deferrable {
  let filled: Set<string> | undefined;
  return (rule) => {
    const target = jumpTarget(rule.text);
    if (target === undefined) return false;
    filled ??= new Set(desired.chains.filter((c) => c.rules.length > 0).map((c) => c.name));
    return !filled.has(target);
  };
}

/**
 * Whether the plan fills again an owned chain an earlier hot apply emptied (live without rules,
 * as a stop leaves it until the cleanup): a container that starts again before the cleanup.
 */
function refills(desired: Table, live: LiveTable, unchanged: ReadonlySet<Chain> | undefined): boolean {
  return desired.chains.some((c) => c.rules.length > 0 && !unchanged?.has(c) && live.get(c.name)?.rules.length === 0);
}

interface SetEdits {
  readonly appends: readonly string[];
  /** The same lines as live rules (words after `-A CHAIN`, and tag). */
  readonly added: readonly LiveRule[];
  readonly deletes: readonly string[];
  /** Stale lines left in place for the cleanup. */
  readonly deferred: boolean;
}

function sameTags(live: LiveChain | undefined, desired: readonly string[]): boolean {
  if (!live || live.rules.length !== desired.length) return false;
  return live.rules.every((r, i) => r.tag === desired[i]);
}

/** The hooks of one built-in chain are in place when they are its first rules, in order, and no other rule carries a tag. */
export function hooksInPlace(live: LiveTable, table: TableName, builtin: string, hooks: readonly Hook[]): boolean {
  const rules = live.get(builtin)?.rules ?? [];
  const tags = hooks.map((h) => hookTag(table, builtin, h.rule));
  return tags.every((tag, i) => rules[i]?.tag === tag) && rules.filter((r) => r.tag !== undefined).length === tags.length;
}

function byBuiltin(hooks: readonly Hook[]): Map<string, Hook[]> {
  const groups = new Map<string, Hook[]>();
  for (const hook of hooks) groups.set(hook.builtin, [...(groups.get(hook.builtin) ?? []), hook]);
  return groups;
}

export interface PlanOptions {
  /**
   * Chains known to be live exactly as desired (the hot path passes the chain objects of the
   * last applied ruleset): skipped without comparing their rules.
   */
  readonly unchanged?: ReadonlySet<Chain>;
  /**
   * Leave deletions for a later cleanup: a chain no longer wanted is flushed (its rules stop
   * at once) instead of deleted, and stale lines of set chains stay while they do nothing
   * (Chain.staleMayWait, deferrableIn). On nft a rule or chain deletion makes iptables-restore fetch the
   * whole table first; a container stop on the hot path then costs what a start does.
   */
  readonly deferDeletes?: boolean;
}

/**
 * Owned live chains the desired table no longer has, in name order. On the hot path
 * (`filled`: how many desired chains are live with rules) only those still holding rules
 * matter — the emptied ones wait for the cleanup already asked for — and when every owned
 * chain with rules is desired (the counts agree, as after most events) no set of a
 * table's thousands of names is built.
 */
function unwantedChains(desired: Table, live: LiveTable, filled?: number): string[] {
  if (filled !== undefined && filled === filledOwnedCount(live)) return [];
  const wanted = new Set(desired.chains.map((c) => c.name));
  return [...live.keys()].filter((c) => isOwnedChain(c) && !wanted.has(c)).sort();
}

/** What planning the tables gathers beside their text: Plan's other fields, filled table by table. */
interface Gathered {
  readonly changes: Change[];
  readonly written: Map<string, Chain>;
  readonly appended: Map<string, readonly LiveRule[]>;
  deferred: boolean;
}

/** One table's block of restore input ('' when nothing in it differs). */
function tablePlan(name: TableName, ruleset: Ruleset, state: LiveState, options: PlanOptions, out: Gathered): string {
  const { changes, written } = out;
  const desired = ruleset.tables[name];
  const live = state.get(name) ?? EMPTY;
  const declare: string[] = [];
  // Lines to add; a chain written whole adds its lines as one piece, joined once.
  const body: string[] = [];
  for (const chain of desired.ensure ?? []) {
    if (live.has(chain)) continue;
    declare.push(`:${chain} - [0:0]`);
    changes.push({ kind: 'create-chain', table: name, chain });
  }
  const edits: string[] = [];
  const deferrable = options.deferDeletes ? deferrableIn(desired) : undefined;
  // Lines left for the cleanup that lead into a chain filled again would come back to life: this plan deletes them.
  const revived = deferrable !== undefined && refills(desired, live, options.unchanged);
  let filled = 0;
  for (const chain of desired.chains) {
    // A chain of the last applied ruleset is live as applied (the hot path's assumption), but for the lines left for the cleanup.
    if (options.unchanged?.has(chain) && !(revived && chain.unordered && !chain.staleMayWait)) {
      if (chain.rules.length > 0) filled++;
      continue;
    }
    const current = live.get(chain.name);
    if (current && current.rules.length > 0) filled++;
    const rendered = renderChain(chain);
    if (chain.unordered && current) {
      const mayWait = revived && !chain.staleMayWait ? undefined : deferrable;
      setChainPlan(name, chain, setEdits(chain, rendered, current, mayWait), { edits, body }, out, options);
      continue;
    }
    if (sameTags(current, rendered.tags)) continue;
    declare.push(`:${chain.name} - [0:0]`);
    if (rendered.lines.length > 0) body.push(rendered.lines.join('\n'));
    changes.push({ kind: 'write-chain', table: name, chain: chain.name });
    written.set(`${name}/${chain.name}`, chain);
  }
  // Planned against the assumed state (the hot path), nothing of Docker's can be live: the full apply took it over.
  const leftovers = options.unchanged ? { rules: [], chains: [] } : dockerLeftovers(name, state, ruleset.dockerBridges ?? []);
  const unwanted = unwantedChains(desired, live, options.unchanged && options.deferDeletes ? filled : undefined);
  if (options.deferDeletes) {
    for (const chain of unwanted.filter((c) => (live.get(c)?.rules.length ?? 0) > 0)) {
      edits.push(`-F ${chain}`);
      changes.push({ kind: 'flush-chain', table: name, chain });
    }
    if (unwanted.length > 0) out.deferred = true;
  }
  const stale = [...(options.deferDeletes ? [] : unwanted), ...leftovers.chains];
  for (const chain of stale) {
    declare.push(`:${chain} - [0:0]`);
    changes.push({ kind: isOwnedChain(chain) ? 'delete-chain' : 'take-over', table: name, chain });
  }
  const takeover = leftovers.rules.map((r) => `-D ${r.chain} ${r.text}`);
  for (const r of leftovers.rules) changes.push({ kind: 'take-over', table: name, chain: r.chain });
  const hooks = hookLines(name, desired, live, changes);
  if (edits.length === 0 && body.length === 0 && declare.length === 0 && hooks.length === 0 && takeover.length === 0) return '';
  return `${[`*${name}`, ...declare, ...takeover, ...edits, ...hooks.filter((l) => l.startsWith('-D')), ...body,
    ...hooks.filter((l) => l.startsWith('-I')), ...stale.map((c) => `-X ${c}`), 'COMMIT'].join('\n')}\n`;
}

/**
 * A set chain that exists: its new lines are appended; stale ones are deleted now, or — those
 * that do nothing meanwhile — left for the cleanup (deferDeletes), which then is due.
 */
function setChainPlan(table: TableName, chain: Chain, edit: SetEdits, lines: { edits: string[]; body: string[] }, out: Gathered, options: PlanOptions): void {
  lines.edits.push(...edit.deletes);
  lines.body.push(...edit.appends);
  if (edit.deferred) out.deferred = true;
  const key = `${table}/${chain.name}`;
  if (options.deferDeletes && edit.deletes.length === 0) {
    if (edit.appends.length > 0) {
      out.changes.push({ kind: 'append-chain', table, chain: chain.name });
      out.appended.set(key, edit.added);
    }
  } else if (edit.appends.length > 0 || edit.deletes.length > 0) {
    out.changes.push({ kind: 'edit-chain', table, chain: chain.name });
  }
  if (edit.appends.length > 0 || edit.deletes.length > 0) out.written.set(key, chain);
}

function hookLines(name: TableName, desired: Table, live: LiveTable, changes: Change[]): string[] {
  const lines: string[] = [];
  for (const [builtin, hooks] of byBuiltin(desired.hooks)) {
    if (hooksInPlace(live, name, builtin, hooks)) continue;
    for (const r of live.get(builtin)?.rules ?? []) if (r.tag !== undefined) lines.push(`-D ${builtin} ${r.text}`);
    // "-I CHAIN N": the hooks take the first positions of the built-in chain, in order.
    hooks.forEach((hook, i) => lines.push(ruleLine('-I', `${builtin} ${i + 1}`, hook.rule, hookTag(name, builtin, hook.rule))));
    changes.push({ kind: 'place-hook', table: name, chain: builtin });
  }
  return lines;
}

/** Changes that only take rules away. */
const REMOVING = new Set<Change['kind']>(['delete-chain', 'flush-chain', 'edit-chain', 'take-over']);

/**
 * Tables commit one by one. When access grows, filter goes before nat (TABLE_ORDER), so no
 * translation exists before the rules that judge it; when it only shrinks, nat goes first,
 * so nothing is translated towards rules already gone. Either order is safe — every table
 * alone keeps refused sources out — but this one never refuses what is still allowed.
 */
export function planRestore(desired: Ruleset, live: LiveState, options: PlanOptions = {}): Plan {
  const out: Gathered = { changes: [], written: new Map(), appended: new Map(), deferred: false };
  const blocks = new Map(TABLE_ORDER.map((t) => [t, tablePlan(t, desired, live, options, out)] as const));
  // A canary is rewritten when the policy changes (compile/canary.ts): it neither grows nor shrinks access.
  const judged = out.changes.filter((c) => c.chain !== CANARY);
  const shrinking = judged.length > 0 && judged.every((c) => REMOVING.has(c.kind));
  const order = shrinking ? [...TABLE_ORDER].reverse() : TABLE_ORDER;
  const { changes, written, appended } = out;
  return { text: order.map((t) => blocks.get(t) ?? '').join(''), changes, written, appended, ...(out.deferred ? { deferred: true } : {}) };
}

/** The whole ruleset as restore text, as if nothing were live: what `plan` shows and golden files hold. */
export function renderRuleset(desired: Ruleset): string {
  return planRestore(desired, new Map()).text;
}

/** Restore input that removes every owned chain and hook from the live state (dockward flush). */
export function planFlush(live: LiveState): Plan {
  const changes: Change[] = [];
  const lines: string[] = [];
  for (const [name, table] of live) {
    const owned = [...table.keys()].filter(isOwnedChain).sort();
    const unhook: string[] = [];
    for (const chain of table.values()) {
      if (isOwnedChain(chain.name)) continue;
      for (const r of chain.rules) if (r.tag !== undefined) unhook.push(`-D ${chain.name} ${r.text}`);
    }
    if (owned.length === 0 && unhook.length === 0) continue;
    lines.push(`*${name}`, ...owned.map((c) => `:${c} - [0:0]`), ...unhook, ...owned.map((c) => `-X ${c}`), 'COMMIT');
    for (const chain of owned) changes.push({ kind: 'delete-chain', table: name, chain });
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', changes, written: new Map(), appended: new Map() };
}

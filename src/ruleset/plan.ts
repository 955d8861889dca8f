/**
 * Desired ruleset + live state (parsed iptables-save) → the restore input that makes live
 * equal desired, touching only what differs. Chains are compared by hash tags, never by
 * text; a chain whose tags match is not written, so an unchanged state needs no restore.
 * Hooks sit first in their built-in chain; a missing, moved or duplicated hook is deleted
 * by its exact saved text and inserted again at the top, inside the same table commit.
 */
import { isOwnedChain } from '../compile/names.js';
import { hookTag } from './hash.js';
import type { LiveChain, LiveState, LiveTable } from './parse.js';
import { chainLines, chainTags, ruleLine } from './render.js';
import { TABLE_ORDER, type Hook, type Ruleset, type Table, type TableName } from './types.js';

export type Change =
  | { readonly kind: 'write-chain' | 'delete-chain'; readonly table: TableName; readonly chain: string }
  | { readonly kind: 'place-hook'; readonly table: TableName; readonly chain: string };

export interface Plan {
  /** iptables-restore --noflush input; empty when nothing differs. */
  readonly text: string;
  readonly changes: readonly Change[];
}

const EMPTY: LiveTable = new Map();

function sameTags(live: LiveChain | undefined, desired: string[]): boolean {
  if (!live || live.rules.length !== desired.length) return false;
  return live.rules.every((r, i) => r.tag === desired[i]);
}

/** A hook is in place when its tag is on the first rule and on no other rule of the built-in chain. */
export function hookInPlace(live: LiveTable, table: TableName, hook: Hook): boolean {
  const rules = live.get(hook.builtin)?.rules ?? [];
  const tag = hookTag(table, hook.builtin, hook.rule);
  return rules[0]?.tag === tag && rules.filter((r) => r.tag !== undefined).length === 1;
}

function tablePlan(name: TableName, desired: Table, live: LiveTable, changes: Change[]): string[] {
  const declare: string[] = [];
  const body: string[] = [];
  const wanted = new Set(desired.chains.map((c) => c.name));
  for (const chain of desired.chains) {
    if (sameTags(live.get(chain.name), chainTags(chain))) continue;
    declare.push(`:${chain.name} - [0:0]`);
    body.push(...chainLines(chain));
    changes.push({ kind: 'write-chain', table: name, chain: chain.name });
  }
  const stale = [...live.keys()].filter((c) => isOwnedChain(c) && !wanted.has(c)).sort();
  for (const chain of stale) {
    declare.push(`:${chain} - [0:0]`);
    changes.push({ kind: 'delete-chain', table: name, chain });
  }
  const hooks = hookLines(name, desired, live, changes);
  if (declare.length === 0 && hooks.length === 0) return [];
  return [`*${name}`, ...declare, ...hooks.filter((l) => l.startsWith('-D')), ...body,
    ...hooks.filter((l) => l.startsWith('-I')), ...stale.map((c) => `-X ${c}`), 'COMMIT'];
}

function hookLines(name: TableName, desired: Table, live: LiveTable, changes: Change[]): string[] {
  const lines: string[] = [];
  for (const hook of desired.hooks) {
    if (hookInPlace(live, name, hook)) continue;
    for (const r of live.get(hook.builtin)?.rules ?? []) if (r.tag !== undefined) lines.push(`-D ${hook.builtin} ${r.text}`);
    // "-I CHAIN 1": the hook goes to the top of the built-in chain.
    lines.push(ruleLine('-I', `${hook.builtin} 1`, hook.rule, hookTag(name, hook.builtin, hook.rule)));
    changes.push({ kind: 'place-hook', table: name, chain: hook.builtin });
  }
  return lines;
}

export function planRestore(desired: Ruleset, live: LiveState): Plan {
  const changes: Change[] = [];
  const lines = TABLE_ORDER.flatMap((t) => tablePlan(t, desired.tables[t], live.get(t) ?? EMPTY, changes));
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', changes };
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
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', changes };
}

/**
 * compile: (inventory, policy, options) → one ruleset per address family. Pure: no I/O,
 * no clock; linear in the size of the inventory. Everything dockward does to a packet is
 * decided here and can be read in `dockward plan`.
 */
import type { Inventory } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import type { Chain, Family, Hook, Ruleset, Table, TableName } from '../ruleset/types.js';
import { buildModel } from './model.js';
import { CANARY, FORWARD, OUTPUT, POSTROUTING, PREROUTING, PUBLISH, REJECT_MARK } from './names.js';
import { networkChains } from './networks.js';
import { publishedChains, type BindingAccess } from './published.js';

export type { BindingAccess };
import { ctNew, jump, localDst, rule } from './rules.js';

export interface CompileOptions {
  /** Packet-mark bit that tags sources the policy rejects (see compile/networks.ts guard). */
  readonly rejectMark: number;
}

export const DEFAULT_OPTIONS: CompileOptions = { rejectMark: 0x1000000 };

export interface Compiled {
  readonly rulesets: readonly Ruleset[];
  /** Things left out or not handled, for the log. */
  readonly notes: readonly string[];
  /** Per published binding, who may use it (for revoking flows the policy no longer allows). */
  readonly access: readonly BindingAccess[];
  readonly stats: { readonly containers: number; readonly mappings: number; readonly rules: number };
}

const HOOKS: Readonly<Record<TableName, readonly [string, string][]>> = {
  raw: [['PREROUTING', PREROUTING]],
  mangle: [['PREROUTING', PREROUTING], ['POSTROUTING', POSTROUTING]],
  filter: [['FORWARD', FORWARD]],
  nat: [['PREROUTING', PREROUTING], ['OUTPUT', OUTPUT], ['POSTROUTING', POSTROUTING]],
};

function hooks(table: TableName): Hook[] {
  return HOOKS[table].map(([builtin, chain]) => ({ builtin, rule: rule([], jump(chain), 'hook') }));
}

function table(name: TableName, chains: Chain[]): Table {
  // The canary holds one rule: `iptables -F` empties chains without deleting them.
  const all = [...chains, { name: CANARY, rules: [rule([], { kind: 'RETURN' }, 'canary')] }];
  all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { chains: all, hooks: hooks(name) };
}

function compileFamily(inventory: Inventory, policy: Policy, options: CompileOptions, family: Family) {
  const model = buildModel(inventory, family);
  const published = publishedChains(model.publications, policy, family);
  const networks = networkChains(model.bridges, family, options.rejectMark);
  const toPublished = rule([localDst], jump(PUBLISH));
  const ruleset: Ruleset = {
    family,
    tables: {
      raw: table('raw', [networks.raw]),
      mangle: table('mangle', [
        { name: PREROUTING, rules: [rule([localDst, ctNew], jump(PUBLISH))] },
        { name: REJECT_MARK, rules: [rule([], { kind: 'MARK', value: options.rejectMark, mask: options.rejectMark })] },
        networks.mangleGuard, ...published.mangle,
      ]),
      filter: table('filter', [networks.filterForward, ...published.filter]),
      nat: table('nat', [
        { name: PREROUTING, rules: [toPublished] }, { name: OUTPUT, rules: [toPublished] },
        networks.natPostrouting, ...published.nat,
      ]),
    },
  };
  return { ruleset, model, access: published.access };
}

function countRules(ruleset: Ruleset): number {
  return Object.values(ruleset.tables).reduce((n, t) => n + t.hooks.length + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
}

export function compile(inventory: Inventory, policy: Policy, options: CompileOptions = DEFAULT_OPTIONS): Compiled {
  const { ruleset, model, access } = compileFamily(inventory, policy, options, 'ipv4');
  return {
    rulesets: [ruleset],
    notes: model.notes,
    access,
    stats: {
      containers: inventory.containers.length,
      mappings: model.publications.reduce((n, p) => n + p.bindings.length, 0),
      rules: countRules(ruleset),
    },
  };
}

/**
 * Memoised compilation. An event about one container changes one container's inputs; the
 * inventory reader hands every other container back as the very same object, so its share
 * is found by identity and not compiled again — and its chains, being the same objects,
 * are not rendered or hashed again either (ruleset/render.ts). The output is exactly what
 * a fresh compile gives: a container's share depends only on the container, the family,
 * the policy and the networks' bridges, and a change of policy or networks empties the
 * cache.
 *
 * Chains that depend on several containers (connections to one container, the networks'
 * chains, the mirrors in mangle) are built again each compile; one equal to the chain of
 * that name in the last compile is replaced by that chain object (`reuse`), so the plan
 * skips it as in force, and its rendering is remembered, like a container's.
 */
import type { Container, Network } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import { memoise } from '../ruleset/render.js';
import { TABLE_ORDER, type Chain, type Family, type Rule, type Ruleset, type Tables } from '../ruleset/types.js';
import type { ContainerParts } from './published.js';

/**
 * Something computed from one object of the inventory alone (a container, an attachment of
 * it, the list of networks) with the policy, family and networks.
 */
export type PerContainer = <T>(key: object, slot: string, compute: () => T) => T;

export const uncached: PerContainer = (_key, _slot, compute) => compute();

/** A container's chains and dispatch rules will be met again: remember their rendering too. */
function remembered(parts: ContainerParts): ContainerParts {
  const { mangle, nat, filter, dispatch } = parts;
  memoise([nat, filter, ...(mangle ? [mangle] : []), ...Object.values(dispatch).filter((r): r is Rule => r !== undefined)]);
  return parts;
}

/** Plain data (rules, matches, targets) compared by value; no key lists built, this runs per rule. */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const k in x) {
    if (!sameData(x[k], y[k])) return false;
    keys++;
  }
  for (const _ in y) keys--;
  return keys === 0;
}

function sameChain(a: Chain, b: Chain): boolean {
  return a.unordered === b.unordered && a.staleMayWait === b.staleMayWait && a.rules.length === b.rules.length && a.rules.every((r, i) => sameData(r, b.rules[i]));
}

/** Stands for a computed undefined, so that a miss is told from it by one lookup. */
const NONE = Symbol('none');
const PARTS_SLOT: Readonly<Record<Family, string>> = { ipv4: 'published/ipv4', ipv6: 'published/ipv6' };

export class CompileCache {
  /** Per slot, what was computed for each key object. */
  private entries = new Map<string, WeakMap<object, unknown>>();
  /** The last compile's chains, per family/table. */
  private chains = new Map<string, LastChains>();
  private policy: Policy | undefined;
  private networks = '';

  /** Start a compile with these inputs; anything they change is forgotten. */
  begin(policy: Policy, networks: readonly Network[]): void {
    // Every field of every network: a container's share is built against its networks' bridges.
    const signature = JSON.stringify(networks);
    if (policy !== this.policy || signature !== this.networks) {
      this.entries = new Map();
      this.chains = new Map();
    }
    this.policy = policy;
    this.networks = signature;
  }

  /** One lookup per call on the hot path: a weak map per slot, and undefined results stored as NONE. */
  readonly of: PerContainer = <T>(key: object, slot: string, compute: () => T): T => {
    let memo = this.entries.get(slot);
    if (!memo) this.entries.set(slot, (memo = new WeakMap()));
    const known = memo.get(key);
    if (known !== undefined) return (known === NONE ? undefined : known) as T;
    const value = compute();
    memo.set(key, value === undefined ? NONE : value);
    return value;
  };

  parts(container: Container, family: Family, compute: () => ContainerParts): ContainerParts {
    return this.of(container, PARTS_SLOT[family], () => remembered(compute()));
  }

  /** The ruleset with every chain equal to its predecessor replaced by that very object. */
  reuse(ruleset: Ruleset): Ruleset {
    const tables = {} as Record<string, Tables[keyof Tables]>;
    for (const name of TABLE_ORDER) {
      const table = ruleset.tables[name];
      const key = `${ruleset.family}/${name}`;
      const last = this.chains.get(key) ?? { byName: new Map<string, Chain>(), order: [] };
      const chains = this.reused(table.chains, last);
      this.chains.set(key, { byName: last.byName.size > chains.length ? new Map(chains.map((c) => [c.name, c])) : last.byName, order: chains });
      tables[name] = { ...table, chains };
    }
    return { ...ruleset, tables: tables as unknown as Tables };
  }

  /**
   * Walks the new chains beside the last compile's, in order: most are the very objects
   * met at the same place (a container's chains come from its memo), a start or a stop
   * shifts the rest by one — so most are recognised by a pointer comparison, not by name.
   */
  private reused(fresh: readonly Chain[], last: LastChains): Chain[] {
    const out: Chain[] = new Array<Chain>(fresh.length);
    let j = 0;
    for (let i = 0; i < fresh.length; i++) {
      const chain = fresh[i]!;
      const known = chain === last.order[j] || chain === last.order[j + 1];
      const found = known ? chain : this.predecessor(chain, last.byName);
      out[i] = found;
      // In step with the last order again; one chain left out since (a stop) is stepped over.
      if (found === last.order[j]) j++;
      else if (found === last.order[j + 1]) j += 2;
    }
    return out;
  }

  private predecessor(chain: Chain, byName: Map<string, Chain>): Chain {
    const before = byName.get(chain.name);
    if (before === chain) return chain;
    if (before !== undefined && sameChain(before, chain)) return before;
    memoise([chain]);
    byName.set(chain.name, chain);
    // A set chain's lines are met again even when the chain is not: the containers' own rules, mostly.
    if (chain.unordered) memoise(chain.rules);
    return chain;
  }
}

interface LastChains {
  /** The last compile's chains by name (and chains of earlier compiles, until one is gone). */
  readonly byName: Map<string, Chain>;
  /** The last compile's chains of the table, in order. */
  readonly order: readonly Chain[];
}

/**
 * One table at one hook: its built-in chain — dockward's hooks, then policy ACCEPT, for
 * nothing else is in it as far as the trace is concerned — and every chain reached from
 * there by jump or goto, with iptables' semantics for RETURN, goto and MARK.
 */
import type { Chain, Rule, Table, TableName, Target } from '../ruleset/types.js';
import { matchesAll, type PacketView } from './match.js';
import { TraceError, type Step } from './types.js';

/** How a chain, or a whole hook, ended for the packet. */
export type Outcome =
  /** Fell off the end of the chain, or RETURN: back to the caller. */
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop'; readonly step: Step }
  | { readonly kind: 'reject'; readonly with: string; readonly step: Step }
  | { readonly kind: 'dnat'; readonly to: string; readonly step: Step }
  /** SNAT to an address, or MASQUERADE. */
  | { readonly kind: 'snat'; readonly to: string; readonly step: Step };

const CONTINUE: Outcome = { kind: 'continue' };
/** A non-terminating target (MARK, a jump that came back): go on with the next rule. */
const NEXT = Symbol('next');

/** iptables refuses deeper nesting; deeper here means a loop that would never end. */
const MAX_DEPTH = 32;

/** Chains by name, built once per table: dispatch chains jump through thousands of container chains. */
const INDEX = new WeakMap<Table, ReadonlyMap<string, Chain>>();

function chainsOf(table: Table): ReadonlyMap<string, Chain> {
  let index = INDEX.get(table);
  if (!index) {
    index = new Map(table.chains.map((c) => [c.name, c]));
    INDEX.set(table, index);
  }
  return index;
}

export class TableWalk {
  /** One view for the whole walk; MARK changes its mark in place. */
  private readonly view: { -readonly [K in keyof PacketView]: PacketView[K] };

  constructor(
    private readonly name: TableName,
    private readonly table: Table,
    packet: Omit<PacketView, 'mark'>,
    mark: number,
    private readonly steps: Step[],
    private readonly opaque: Set<string>,
  ) {
    this.view = { ...packet, mark };
  }

  /** The packet mark after the walk: later tables see what MARK set here. */
  get mark(): number {
    return this.view.mark;
  }

  /** The built-in chain `builtin`: its hooks in order, then the policy (ACCEPT). */
  hook(builtin: string): Outcome {
    const rules = this.table.hooks.filter((h) => h.builtin === builtin).map((h) => h.rule);
    const out = this.rules(builtin, rules, 0);
    return out.kind === 'continue' ? { kind: 'accept' } : out;
  }

  private chain(name: string, depth: number): Outcome {
    if (depth > MAX_DEPTH) throw new TraceError(`table ${this.name}: jumps nest deeper than ${MAX_DEPTH} (a loop through ${name}?)`);
    const chain = chainsOf(this.table).get(name);
    if (chain) return this.rules(name, chain.rules, depth);
    if (this.table.ensure?.includes(name)) {
      this.opaque.add(`${this.name}/${name}`);
      return CONTINUE;
    }
    throw new TraceError(`table ${this.name}: a rule jumps to chain ${name}, which does not exist`);
  }

  private rules(chain: string, rules: readonly Rule[], depth: number): Outcome {
    for (const [index, rule] of rules.entries()) {
      if (!matchesAll(rule.matches, this.view)) continue;
      const step: Step = { table: this.name, chain, index, rule };
      this.steps.push(step);
      const out = this.target(rule.target, step, depth);
      if (out !== NEXT) return out;
    }
    return CONTINUE;
  }

  private target(t: Target, step: Step, depth: number): Outcome | typeof NEXT {
    switch (t.kind) {
      case 'ACCEPT': return { kind: 'accept' };
      case 'DROP': return { kind: 'drop', step };
      case 'REJECT': return { kind: 'reject', with: t.with, step };
      case 'RETURN': return CONTINUE;
      case 'jump': {
        const out = this.chain(t.chain, depth + 1);
        return out.kind === 'continue' ? NEXT : out;
      }
      // A goto'd chain that ends returns to the caller of this chain, not to this chain.
      case 'goto': return this.chain(t.chain, depth + 1);
      case 'MARK':
        this.view.mark = ((this.view.mark & ~t.mask) ^ t.value) >>> 0;
        return NEXT;
      // Logging changes nothing about the packet's way.
      case 'LOG': return NEXT;
      case 'DNAT': return { kind: 'dnat', to: t.to, step };
      case 'SNAT': return { kind: 'snat', to: t.to, step };
      case 'MASQUERADE': return { kind: 'snat', to: 'MASQUERADE', step };
      default: throw new TraceError(`cannot trace a rule with target ${JSON.stringify((t as { kind: unknown }).kind)}`);
    }
  }
}

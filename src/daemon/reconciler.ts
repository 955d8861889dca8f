/**
 * One reconcile: snapshot Docker, compile with the policy in force, apply, verify.
 * "Docker unreachable" never means "no containers": when the inventory cannot be read,
 * nothing is applied and the rules in force stay as they are until a read succeeds.
 */
import { compile, type Compiled } from '../compile/index.js';
import { applyRuleset } from '../dataplane/apply.js';
import { RestoreError, type Iptables } from '../dataplane/iptables.js';
import type { Inventory } from '../inventory/types.js';
import type { Logger } from '../log.js';
import type { Policy } from '../policy/types.js';

export interface ReconcileState {
  readonly policy: Policy;
  lastApplyAt?: number;
  lastDurationMs?: number;
  lastError?: string;
  applies: number;
  stats?: Compiled['stats'];
}

export interface ReconcilerDeps {
  readonly readInventory: () => Promise<Inventory>;
  readonly iptables: Iptables;
  readonly log: Logger;
  readonly now?: () => number;
}

export class Reconciler {
  readonly state: ReconcileState;
  private readonly now: () => number;

  constructor(private readonly deps: ReconcilerDeps, policy: Policy) {
    this.state = { policy, applies: 0 };
    this.now = deps.now ?? Date.now;
  }

  setPolicy(policy: Policy): void {
    (this.state as { policy: Policy }).policy = policy;
  }

  async reconcile(reasons: readonly string[]): Promise<boolean> {
    const { log } = this.deps;
    const started = this.now();
    let inventory: Inventory;
    try {
      inventory = await this.deps.readInventory();
    } catch (error) {
      return this.fail(`docker unreachable, rules in force kept: ${(error as Error).message}`, reasons);
    }
    const compiled = compile(inventory, this.state.policy);
    for (const note of compiled.notes) log.warn({ note }, 'left out of the rules');
    try {
      for (const ruleset of compiled.rulesets) {
        const result = await applyRuleset(this.deps.iptables, ruleset, this.now);
        if (result.changes.length > 0) {
          this.state.applies++;
          log.info({ reasons, family: ruleset.family, changes: result.changes.map((c) => `${c.kind} ${c.table}/${c.chain}`), bytes: result.restoreBytes, ms: result.durationMs }, 'applied');
        } else {
          log.debug({ reasons, family: ruleset.family, ms: result.durationMs }, 'in sync');
        }
      }
    } catch (error) {
      const detail = error instanceof RestoreError ? { stderr: error.stderr, excerpt: error.excerpt } : {};
      return this.fail(`apply failed, previous rules kept: ${(error as Error).message}`, reasons, detail);
    }
    Object.assign(this.state, { lastApplyAt: this.now(), lastDurationMs: this.now() - started, stats: compiled.stats });
    delete this.state.lastError;
    return true;
  }

  private fail(message: string, reasons: readonly string[], detail: object = {}): false {
    this.state.lastError = message;
    this.deps.log.error({ reasons, ...detail }, message);
    return false;
  }
}

/**
 * Make the live rules equal the desired ones: read back, plan the difference, restore it,
 * read back again and verify by hash tags. A failed restore leaves whatever the kernel
 * held (each table commits whole or not at all); the caller retries.
 */
import { parseSave } from '../ruleset/parse.js';
import { planFlush, planRestore, type Change } from '../ruleset/plan.js';
import type { Family, Ruleset } from '../ruleset/types.js';
import type { Iptables } from './iptables.js';

export interface ApplyResult {
  readonly family: Family;
  readonly changes: readonly Change[];
  /** Bytes of restore input written (0: nothing differed, no restore was run). */
  readonly restoreBytes: number;
  readonly durationMs: number;
}

export class VerifyError extends Error {
  constructor(readonly family: Family, readonly remaining: readonly Change[]) {
    super(`after restore the live ${family} rules still differ: ${remaining.map((c) => `${c.kind} ${c.table}/${c.chain}`).join(', ')}`);
    this.name = 'VerifyError';
  }
}

export async function liveDrift(ipt: Iptables, desired: Ruleset): Promise<readonly Change[]> {
  return planRestore(desired, parseSave(await ipt.save(desired.family))).changes;
}

export async function applyRuleset(ipt: Iptables, desired: Ruleset, now: () => number = Date.now): Promise<ApplyResult> {
  const started = now();
  const plan = planRestore(desired, parseSave(await ipt.save(desired.family)));
  if (plan.text !== '') {
    await ipt.restore(desired.family, plan.text);
    const remaining = await liveDrift(ipt, desired);
    if (remaining.length > 0) throw new VerifyError(desired.family, remaining);
  }
  return { family: desired.family, changes: plan.changes, restoreBytes: plan.text.length, durationMs: now() - started };
}

export async function flushFamily(ipt: Iptables, family: Family): Promise<readonly Change[]> {
  const plan = planFlush(parseSave(await ipt.save(family)));
  if (plan.text !== '') await ipt.restore(family, plan.text);
  return plan.changes;
}

/**
 * Detection of what others do to the rules. Two layers, so that a repair is a response to
 * something seen, never a blind re-apply:
 *   - canaries: every few hundred ms, one cheap `iptables -S DOCKWARD-CANARY` per table;
 *     the canary chain holds one rule, so a flush (-F), a table wiped alone, a restore
 *     without --noflush or `nft flush ruleset` all make it fail;
 *   - read-back: every readback interval, iptables-save compared with the desired rules by
 *     hash tags: catches a deleted or edited rule, a chain removed, a hook displaced.
 * Both stay quiet while an apply runs, so dockward's own writes are never mistaken for drift.
 */
import { liveDrift } from '../dataplane/apply.js';
import type { Iptables } from '../dataplane/iptables.js';
import type { Logger } from '../log.js';
import { CANARY } from '../compile/names.js';
import { TABLE_ORDER, type Ruleset } from '../ruleset/types.js';

export interface WatchdogOptions {
  readonly iptables: Iptables;
  readonly log: Logger;
  readonly desired: () => readonly Ruleset[];
  readonly busy: () => boolean;
  readonly onDrift: (reason: string) => void;
  readonly canaryMs: number;
  readonly readbackMs: number;
}

export interface Watchdog {
  /** Read back once soon (after an apply that was planned without reading the live rules). */
  checkSoon(delayMs?: number): void;
  stop(): void;
}

export async function wipedTables(ipt: Iptables, desired: readonly Ruleset[]): Promise<string[]> {
  const wiped: string[] = [];
  for (const ruleset of desired) {
    const checks = TABLE_ORDER.map(async (table) => {
      const rules = await ipt.listChain(ruleset.family, table, CANARY);
      if (!rules?.includes('DW:')) wiped.push(`${ruleset.family}/${table}`);
    });
    await Promise.all(checks);
  }
  return wiped.sort();
}

export function startWatchdog(o: WatchdogOptions): Watchdog {
  let canaryBusy = false;
  let readbackBusy = false;
  const idle = () => !o.busy() && o.desired().length > 0;

  const canary = setInterval(() => {
    if (canaryBusy || !idle()) return;
    canaryBusy = true;
    wipedTables(o.iptables, o.desired()).then((wiped) => {
      if (wiped.length === 0 || !idle()) return;
      o.log.warn({ wiped }, 'rules wiped by someone else: canary gone; repairing');
      o.onDrift(`wiped:${wiped.join(',')}`);
    }, (e: Error) => o.log.warn({ err: e.message }, 'canary check failed')).finally(() => { canaryBusy = false; });
  }, o.canaryMs);

  const readBack = (): void => {
    if (readbackBusy || !idle()) return;
    readbackBusy = true;
    Promise.all(o.desired().map((r) => liveDrift(o.iptables, r, true))).then((found) => {
      const changes = found.flat().map((c) => `${c.kind} ${c.table}/${c.chain}`);
      if (changes.length === 0 || !idle()) return;
      o.log.warn({ found: changes }, 'live rules differ from the desired ones; repairing');
      o.onDrift('drift');
    }, (e: Error) => o.log.warn({ err: e.message }, 'read-back failed')).finally(() => { readbackBusy = false; });
  };
  const readback = setInterval(readBack, o.readbackMs);
  let soon: NodeJS.Timeout | undefined;

  return {
    checkSoon(delayMs = 500) {
      if (soon) return;
      soon = setTimeout(() => {
        soon = undefined;
        readBack();
      }, delayMs);
    },
    stop() {
      clearInterval(canary);
      clearInterval(readback);
      if (soon) clearTimeout(soon);
    },
  };
}

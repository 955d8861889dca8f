/**
 * Detection of what others do to the rules. Three layers, so that a repair is a response to
 * something seen, never a blind re-apply:
 *   - canaries: every 250 ms (every 2 s while `nft monitor` listens, below), one cheap
 *     `iptables -S DOCKWARD-CANARY` per table;
 *     the canary chain holds one rule, so a flush (-F), a table wiped alone, a restore
 *     without --noflush or `nft flush ruleset` all make it fail; and its comment names the
 *     policy in force (compile/canary.ts), so an older copy of dockward's rules from
 *     another policy put back shows as a stale canary;
 *   - read-back: every readback interval, iptables-save compared with the desired rules by
 *     hash tags: catches a deleted or edited rule, a chain removed, a hook displaced;
 *   - on the nft backend, `nft monitor` (dataplane/nft-monitor.ts): any change to the
 *     tables dockward uses brings the read-back forward, debounced, to within a second;
 *     a removal brings the canaries forward too, to when its burst pauses, so a wipe is
 *     repaired without waiting for their next tick.
 * All stay quiet while an apply runs, so dockward's own writes are never mistaken for drift;
 * a read-back due then waits for the apply to end, and the monitor, paused meanwhile,
 * reports its return as a change, so the rules are read back once after the apply.
 */
import type { Iptables } from '../dataplane/iptables.js';
import { removal, watchRuleChanges, type RuleMonitor } from '../dataplane/nft-monitor.js';
import type { Logger } from '../log.js';
import { canaryTag } from '../compile/canary.js';
import { CANARY } from '../compile/names.js';
import { TABLE_ORDER, type Ruleset } from '../ruleset/types.js';
import { readDrift } from './drift.js';

export interface WatchdogOptions {
  readonly iptables: Iptables;
  readonly log: Logger;
  readonly desired: () => readonly Ruleset[];
  readonly busy: () => boolean;
  readonly onDrift: (reason: string) => void;
  readonly canaryMs: number;
  /**
   * While a change monitor listens, a removal brings the canaries forward by itself: the
   * ticks then look only this often (default 2 s), a fallback. Each look lists every
   * table's canary (eight runs of iptables), which every 250 ms was a fifth of a core.
   */
  readonly canaryWatchedMs?: number;
  readonly readbackMs: number;
  /**
   * Change notifications: by default `nft monitor` on the nft backend, none on legacy.
   * Tests pass their own (or null for none).
   */
  readonly watchChanges?: ((onChange: (what: string) => void) => RuleMonitor) | null;
  /** A removal seen makes the canaries be looked at after this quiet gap (default 50 ms)... */
  readonly changeCanaryMs?: number;
  /** ...and starts a read-back after this one... */
  readonly changeQuietMs?: number;
  /** ...or at the latest this long after the first change of a run of them. */
  readonly changeMaxMs?: number;
}

export interface Watchdog {
  /** Read back once soon (after an apply that was planned without reading the live rules). */
  checkSoon(delayMs?: number): void;
  /** An apply starts (true) or ends (false): change notifications pause meanwhile, and a read-back follows. */
  applying(on: boolean): void;
  stop(): void;
}

export interface CanaryFindings {
  /** Tables whose canary is gone: wiped. */
  readonly wiped: readonly string[];
  /** Tables whose canary names another policy: an older copy of the rules restored. */
  readonly stale: readonly string[];
}

export async function checkCanaries(ipt: Iptables, desired: readonly Ruleset[]): Promise<CanaryFindings> {
  const wiped: string[] = [];
  const stale: string[] = [];
  const checks = desired.flatMap((ruleset) => TABLE_ORDER.map(async (table) => {
    const expected = canaryTag(ruleset.tables[table].chains);
    const rules = await ipt.listChain(ruleset.family, table, CANARY);
    const where = `${ruleset.family}/${table}`;
    if (!rules?.includes('DW:')) wiped.push(where);
    else if (expected && !rules.includes(`DW:${expected}`)) stale.push(where);
  }));
  await Promise.all(checks);
  return { wiped: wiped.sort(), stale: stale.sort() };
}

function defaultChanges(o: WatchdogOptions): WatchdogOptions['watchChanges'] {
  if (o.watchChanges !== undefined) return o.watchChanges;
  if (o.iptables.backend !== 'nft') return null;
  return (onChange) => watchRuleChanges({ log: o.log, onChange });
}

export function startWatchdog(o: WatchdogOptions): Watchdog {
  let canaryBusy = false;
  let readbackBusy = false;
  const idle = () => !o.busy() && o.desired().length > 0;

  /** Asked for while a look was under way: it may have listed before the change, so another follows. */
  let canaryAgain = false;
  let lastLook = 0;
  /** `again`: a change was seen, so a look under way does not count for it. */
  const lookAtCanaries = (again: boolean): void => {
    if (canaryBusy) {
      canaryAgain ||= again;
      return;
    }
    // Not now (an apply runs): the next tick looks, however long the fallback interval.
    if (!idle()) {
      lastLook = 0;
      return;
    }
    canaryBusy = true;
    lastLook = Date.now();
    checkCanaries(o.iptables, o.desired()).then(({ wiped, stale }) => {
      if (!idle()) {
        lastLook = 0;
        return;
      }
      // Stale tables need the full apply, which reads every table and so mends wiped ones too;
      // a repair of wiped tables alone trusts the others to be as dockward left them.
      if (stale.length > 0) {
        o.log.warn({ stale, ...(wiped.length ? { wiped } : {}) }, 'an older copy of the rules was put back: its canary names another policy; repairing');
        o.onDrift(`drift:stale:${stale.join(',')}`);
      } else if (wiped.length > 0) {
        o.log.warn({ wiped }, 'rules wiped by someone else: canary gone; repairing');
        o.onDrift(`wiped:${wiped.join(',')}`);
      }
    }, (e: Error) => o.log.warn({ err: e.message }, 'canary check failed')).finally(() => {
      canaryBusy = false;
      if (canaryAgain) {
        canaryAgain = false;
        lookAtCanaries(false);
      }
    });
  };
  // A tick inside a burst of removals waits for its end (a look is due then): a repair that
  // started halfway through a wipe would leave the rest of it to a second repair.
  const watchedMs = o.canaryWatchedMs ?? 2_000;
  const canary = setInterval(() => {
    if (canaryQuiet) return;
    if (monitor?.listening() && Date.now() - lastLook < watchedMs) return;
    lookAtCanaries(false);
  }, o.canaryMs);

  let soon: NodeJS.Timeout | undefined;
  let soonAt = 0;
  const readBack = (why: string): void => {
    // An apply or a read-back is running and may have read before this change: look again once it is over.
    if (o.busy() || readbackBusy) return schedule(200, why);
    if (o.desired().length === 0) return;
    readbackBusy = true;
    Promise.all(o.desired().map((r) => readDrift(o.iptables, r))).then((found) => {
      const findings = found.flat();
      if (findings.length === 0 || !idle()) return;
      o.log.warn({ found: findings, seen: why }, 'live rules differ from the desired ones; repairing');
      o.onDrift('drift');
    }, (e: Error) => o.log.warn({ err: e.message }, 'read-back failed')).finally(() => { readbackBusy = false; });
  };
  /** One read-back at most `ms` from now; an earlier one already due stays. */
  function schedule(ms: number, why: string): void {
    const at = Date.now() + ms;
    if (soon && soonAt <= at) return;
    if (soon) clearTimeout(soon);
    soonAt = at;
    soon = setTimeout(() => {
      soon = undefined;
      readBack(why);
    }, ms);
  }
  const readback = setInterval(() => readBack('timer'), o.readbackMs);

  // Changes seen: removals make the canaries be looked at as soon as their burst pauses (a
  // script's `iptables -F` then `-t nat -F` come a few ms apart: both are seen by one look,
  // and the repair's save comes later still); everything is read back after a longer quiet
  // gap, but never later than changeMaxMs after the first change.
  const canaryQuietMs = o.changeCanaryMs ?? 50;
  /** A burst of removals that does not pause (nft printing a wipe of 10,000 containers) is looked at by then. */
  const canaryMaxMs = 200;
  const quietMs = o.changeQuietMs ?? 100;
  const maxMs = o.changeMaxMs ?? 500;
  let firstChange = 0;
  let firstRemoval = 0;
  let quiet: NodeJS.Timeout | undefined;
  let canaryQuiet: NodeJS.Timeout | undefined;
  const onChange = (what: string): void => {
    // Only a removal can take a canary away. (The monitor back after a pause, 'restarted', is
    // the read-back's: a look at the canaries after each of dockward's own applies would cost
    // eight listings for nothing.)
    if (removal(what)) {
      const now = Date.now();
      if (canaryQuiet) clearTimeout(canaryQuiet);
      else firstRemoval = now;
      canaryQuiet = setTimeout(() => {
        canaryQuiet = undefined;
        lookAtCanaries(true);
      }, Math.max(0, Math.min(canaryQuietMs, firstRemoval + canaryMaxMs - now)));
    }
    const now = Date.now();
    if (!quiet) firstChange = now;
    else clearTimeout(quiet);
    const wait = Math.max(0, Math.min(quietMs, firstChange + maxMs - now));
    quiet = setTimeout(() => {
      quiet = undefined;
      schedule(0, 'nft monitor');
    }, wait);
  };
  const monitor = defaultChanges(o)?.(onChange);

  return {
    checkSoon(delayMs = 500) {
      schedule(delayMs, 'after apply');
    },
    applying(on) {
      if (on) monitor?.pause();
      else monitor?.resume();
    },
    stop() {
      clearInterval(canary);
      clearInterval(readback);
      if (soon) clearTimeout(soon);
      if (quiet) clearTimeout(quiet);
      if (canaryQuiet) clearTimeout(canaryQuiet);
      monitor?.stop();
    },
  };
}

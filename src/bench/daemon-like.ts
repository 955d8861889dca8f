/**
 * The daemon's own path, minus Docker: the Reconciler (with its compile cache, the hot
 * path and the deferred cleanup) behind the real Scheduler, fed by a fake event source
 * that swaps the inventory the reconciler reads and triggers as the Docker event stream
 * does; the watchdog's canaries for the flush repair. Timed from the event callback to
 * the end of the reconcile (both families' restores returned), as the daemon sees it.
 */
import { pino } from 'pino';
import type { Iptables } from '../dataplane/iptables.js';
import type { Inventory } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import { Reconciler } from '../daemon/reconciler.js';
import { Scheduler } from '../daemon/scheduler.js';
import { checkCanaries, startWatchdog, type Watchdog } from '../daemon/watchdog.js';
import { systemIpset } from '../dataplane/ipset.js';
import { liveDrift } from '../dataplane/apply.js';
import type { Family } from '../ruleset/types.js';
import { flushScript, type ChainRef } from '../dataplane/nft-flush.js';

export interface Run {
  readonly ms: number;
  /** Bytes of restore input written, per family, during the run. */
  readonly bytes: number;
}

/** Counts the restore input going through, and notes when the last restore returned. */
function counting(ipt: Iptables): Iptables & { take(): number; lastRestored: number } {
  let bytes = 0;
  return {
    backend: ipt.backend,
    lastRestored: 0,
    save: (family) => ipt.save(family),
    listChain: (family, table, chain) => ipt.listChain(family, table, chain),
    ...(ipt.flushChains ? {
      async flushChains(family: Family, chains: readonly ChainRef[]) {
        bytes += flushScript(family, chains).length;
        await ipt.flushChains!(family, chains);
        this.lastRestored = performance.now();
      },
    } : {}),
    async restore(family: Family, text, options) {
      bytes += text.length;
      await ipt.restore(family, text, options);
      this.lastRestored = performance.now();
    },
    take() {
      const b = bytes;
      bytes = 0;
      return b;
    },
  };
}

export class DaemonLike {
  private inventory: Inventory;
  private readonly ipt: ReturnType<typeof counting>;
  private readonly reconciler: Reconciler;
  private readonly scheduler: Scheduler;
  private finished: (() => void) | undefined;
  /** Running during repairAfter only, as the daemon's: told when a full write starts and ends. */
  private watchdog: Watchdog | undefined;
  /** A hot apply left deletions for the cleanup (the daemon runs it 2 s after the last such event). */
  deferred = false;

  constructor(iptables: Iptables, policy: Policy, inventory: Inventory) {
    this.inventory = inventory;
    this.ipt = counting(iptables);
    this.reconciler = new Reconciler({
      readInventory: async () => this.inventory, iptables: this.ipt, log: pino({ level: 'silent' }),
      // The host's ipset, as the daemon asks it at every reconcile (the benchmark's set lives in its namespace).
      ipset: systemIpset(),
      onDeferred: () => { this.deferred = true; },
      onFullWrite: (writing) => this.watchdog?.applying(writing),
    }, policy);
    this.scheduler = new Scheduler(async (reasons) => {
      const ok = await this.reconciler.reconcile(reasons);
      this.finished?.();
      return ok;
    });
  }

  /** An event (or a full-read reason): the inventory it leads to, the trigger, the reconcile it runs. */
  async event(reason: string, inventory: Inventory = this.inventory): Promise<Run> {
    this.inventory = inventory;
    this.ipt.take();
    const done = new Promise<void>((resolve) => { this.finished = resolve; });
    this.ipt.lastRestored = 0;
    const started = performance.now();
    this.scheduler.trigger(reason);
    await done;
    // To the last restore's return, as the issue times it; what follows (flow revocation, bookkeeping) is not in it.
    const ms = (this.ipt.lastRestored > 0 ? this.ipt.lastRestored : performance.now()) - started;
    this.finished = undefined;
    // Past the scheduler's cooldown, so the next event is a burst of its own.
    await new Promise((r) => setTimeout(r, 150));
    return { ms, bytes: this.ipt.take() };
  }

  /** The deferred deletions, as the daemon's batched cleanup runs them. */
  async cleanup(): Promise<Run> {
    this.deferred = false;
    return this.event('cleanup');
  }

  /**
   * A flush by someone else, to the rules back: the watchdog, as `dockward run` starts it
   * (canaries every 250 ms, and on nft `nft monitor`, paused during full writes), sees it
   * and triggers the urgent repair. Timed from just before the flush
   * to the repairing restore's return (the rules are in the kernel again, every canary
   * back), and to the end of the reconcile plus a read-back of the rules (the daemon's
   * comes half a second later, off that path).
   */
  async repairAfter(flush: () => Promise<void>): Promise<{ back: number; verified: number }> {
    const reconciled = () => new Promise<void>((resolve) => { this.finished = resolve; });
    let done = reconciled();
    const watchdog = this.watchdog = startWatchdog({
      iptables: this.ipt, log: pino({ level: 'silent' }), desired: () => this.reconciler.state.desired,
      busy: () => this.scheduler.busy, onDrift: (reason) => this.scheduler.trigger(reason, { urgent: true }),
      canaryMs: 250, readbackMs: 3_600_000,
    });
    try {
      // A running daemon's monitor is listening already: give this one time to start.
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      await flush();
      // Until every canary is back: a repair that started between two flushes leaves the later one to another.
      for (const deadline = started + 60_000; ;) {
        if (performance.now() > deadline) throw new Error('the rules were not back within 60 s of the flush');
        await done;
        const ended = performance.now();
        done = reconciled();
        if ((await checkCanaries(this.ipt, this.reconciler.state.desired)).wiped.length === 0) {
          // A repair is not verified inline (the daemon reads back half a second later, off its path): what that read-back costs, added.
          const readBack = performance.now();
          await Promise.all(this.reconciler.state.desired.map((r) => liveDrift(this.ipt, r)));
          return { back: this.ipt.lastRestored - started, verified: ended - started + (performance.now() - readBack) };
        }
      }
    } finally {
      watchdog.stop();
      this.watchdog = undefined;
      this.finished = undefined;
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  stop(): void {
    this.scheduler.stop();
  }
}

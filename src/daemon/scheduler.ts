/**
 * When to reconcile. A trigger that finds the scheduler idle runs at once: a container
 * start should not wait out a debounce. Triggers that arrive while a reconcile runs are
 * coalesced into one more run after a pause; while they keep coming the pause grows
 * fourfold (100 ms, 400 ms, 1.6 s, then at most coalesceMaxMs), so a burst of 100
 * container starts costs a handful of applies however long dockerd takes to start them.
 * A quiet gap of settleMs ends a pause early, so the last containers of a burst wait a
 * moment, not the whole pause. A trigger within the last pause (at least coalesceMs)
 * after a run is part of the same burst: it is coalesced and does not restart the
 * sequence from the top; one after a longer quiet runs at once.
 * A trigger `alone` (a container created with no other near it: `docker run`s one after
 * another, not a burst) runs at once too: a stream of single starts would otherwise keep
 * landing in the grown pause of the last, and each wait out the settle gap.
 * Urgent triggers (a repair after the rules were wiped, a policy reload, Docker back) skip
 * every pause, the retry backoff included: a repair must not wait 30 s because Docker is
 * down. One that arrives while a run is under way is first offered to that run
 * (`interrupt`): a run stuck waiting on a frozen dockerd can repair at once.
 * A failed run is retried with exponential backoff until one succeeds.
 */
export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SchedulerOptions {
  /** The first pause after a run that found more triggers waiting. */
  readonly coalesceMs: number;
  /** The longest pause while triggers keep coming. */
  readonly coalesceMaxMs: number;
  /** A gap this long with no trigger ends a pause early. */
  readonly settleMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export const DEFAULT_SCHEDULE: SchedulerOptions = { coalesceMs: 100, coalesceMaxMs: 4000, settleMs: 300, retryMinMs: 250, retryMaxMs: 30_000 };

/** run returns true on success, false to be retried. */
export type Run = (reasons: readonly string[]) => Promise<boolean>;

/** Offered an urgent trigger while a run is under way; true when that run takes care of it. */
export type Interrupt = (reason: string) => boolean;

type Waiting = 'none' | 'coalesce' | 'retry' | 'cooldown';

export class Scheduler {
  private readonly pending = new Set<string>();
  private running = false;
  private urgent = false;
  private waiting: Waiting = 'none';
  private deadline: unknown;
  private settle: unknown;
  private retryMs = 0;
  private pauseMs = 0;
  private stopped = false;
  private current: Promise<boolean> | undefined;

  constructor(
    private readonly run: Run,
    private readonly options = DEFAULT_SCHEDULE,
    private readonly clock = systemClock,
    private readonly interrupt: Interrupt = () => false,
  ) {}

  trigger(reason: string, opts: { urgent?: boolean; alone?: boolean } = {}): void {
    if (this.stopped) return;
    if (opts.urgent && this.running && this.interrupt(reason)) return;
    this.pending.add(reason);
    if (opts.urgent) this.urgent = true;
    // Not part of a burst: the pause of the last one does not hold it (but a retry's backoff does).
    if (opts.alone && this.waiting !== 'retry') this.urgent = true;
    if (this.running) return;
    // A retry waits out its backoff unless something urgent cuts it short.
    if (this.waiting === 'retry' && !opts.urgent) return;
    if (this.waiting === 'none' || this.urgent) {
      this.clearTimers();
      void this.runNow();
    } else if (this.waiting === 'cooldown') {
      this.wait('coalesce', this.grow(), true);
    } else {
      this.armSettle();
    }
  }

  /** No run starts after this; resolves once a run under way has ended (a flush after it must not be undone). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    // A run that throws has been reported where it was awaited; stopping only waits for it.
    await this.current?.catch(() => undefined);
  }

  get busy(): boolean {
    return this.running;
  }

  private clearTimers(): void {
    if (this.deadline !== undefined) this.clock.clearTimeout(this.deadline);
    if (this.settle !== undefined) this.clock.clearTimeout(this.settle);
    this.deadline = undefined;
    this.settle = undefined;
    this.waiting = 'none';
  }

  /** Run (or, in cooldown, forget the burst) after ms, or after a quiet settle gap if sooner. */
  private wait(mode: Waiting, ms: number, settles: boolean): void {
    this.clearTimers();
    this.waiting = mode;
    this.deadline = this.clock.setTimeout(() => this.due(), ms);
    if (settles && ms > this.options.settleMs) this.armSettle();
  }

  private armSettle(): void {
    if (this.settle !== undefined) this.clock.clearTimeout(this.settle);
    this.settle = this.clock.setTimeout(() => this.due(), this.options.settleMs);
  }

  private due(): void {
    const mode = this.waiting;
    this.clearTimers();
    if (mode === 'cooldown') this.pauseMs = 0;
    else void this.runNow();
  }

  private async runNow(): Promise<void> {
    if (this.stopped || this.pending.size === 0) return;
    const reasons = [...this.pending];
    this.pending.clear();
    this.urgent = false;
    this.running = true;
    let ok = false;
    try {
      this.current = this.run(reasons);
      ok = await this.current;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (!ok) {
      for (const r of reasons) this.pending.add(r);
      this.retryMs = Math.min(this.options.retryMaxMs, this.retryMs === 0 ? this.options.retryMinMs : this.retryMs * 2);
      this.wait('retry', this.retryMs, false);
      return;
    }
    this.retryMs = 0;
    if (this.urgent) return void this.runNow();
    if (this.pending.size > 0) this.wait('coalesce', this.grow(), true);
    // A run may find nothing waiting in the middle of a burst: a trigger soon after is still part of it.
    else this.wait('cooldown', Math.max(this.pauseMs, this.options.coalesceMs), false);
  }

  private grow(): number {
    this.pauseMs = Math.min(this.options.coalesceMaxMs, this.pauseMs === 0 ? this.options.coalesceMs : this.pauseMs * 4);
    return this.pauseMs;
  }
}

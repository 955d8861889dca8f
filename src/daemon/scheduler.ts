/**
 * When to reconcile. The first trigger runs at once (a container start should not wait
 * out a debounce); triggers that arrive while a reconcile runs are coalesced into one
 * more run after a pause. While triggers keep coming, the pause doubles (up to
 * coalesceMaxMs), so a burst of 100 container starts costs a handful of applies; once a
 * run finds nothing pending, the next trigger runs at once again.
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
  readonly coalesceMs: number;
  readonly coalesceMaxMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export const DEFAULT_SCHEDULE: SchedulerOptions = { coalesceMs: 100, coalesceMaxMs: 2000, retryMinMs: 250, retryMaxMs: 30_000 };

/** run returns true on success, false to be retried. */
export type Run = (reasons: readonly string[]) => Promise<boolean>;

export class Scheduler {
  private readonly pending = new Set<string>();
  private running = false;
  private timer: unknown;
  private retryMs = 0;
  private coalesceMs = 0;
  private stopped = false;

  constructor(private readonly run: Run, private readonly options = DEFAULT_SCHEDULE, private readonly clock = systemClock) {}

  trigger(reason: string): void {
    this.pending.add(reason);
    if (!this.running && this.timer === undefined && !this.stopped) void this.runNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  get busy(): boolean {
    return this.running;
  }

  private later(ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.runNow();
    }, ms);
  }

  private async runNow(): Promise<void> {
    if (this.stopped || this.pending.size === 0) return;
    const reasons = [...this.pending];
    this.pending.clear();
    this.running = true;
    let ok = false;
    try {
      ok = await this.run(reasons);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (!ok) {
      for (const r of reasons) this.pending.add(r);
      this.retryMs = Math.min(this.options.retryMaxMs, this.retryMs === 0 ? this.options.retryMinMs : this.retryMs * 2);
      this.later(this.retryMs);
    } else {
      this.retryMs = 0;
      if (this.pending.size === 0) {
        this.coalesceMs = 0;
        return;
      }
      this.coalesceMs = Math.min(this.options.coalesceMaxMs, this.coalesceMs === 0 ? this.options.coalesceMs : this.coalesceMs * 2);
      this.later(this.coalesceMs);
    }
  }
}

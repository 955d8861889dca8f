import { describe, expect, it } from 'vitest';
import { Scheduler, type Clock } from '../../../src/daemon/scheduler.js';

/** A clock whose timers fire only when the test says so. */
function manualClock() {
  const timers: { fn: () => void; ms: number }[] = [];
  const clock: Clock = { setTimeout: (fn, ms) => timers.push({ fn, ms }) - 1, clearTimeout: () => undefined };
  return { clock, timers, fire: () => timers.shift()?.fn() };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('scheduler', () => {
  it('runs the first trigger at once, and coalesces a burst that arrives meanwhile into one more run', async () => {
    const runs: string[][] = [];
    let release!: () => void;
    const { clock, timers, fire } = manualClock();
    const s = new Scheduler(async (reasons) => {
      runs.push([...reasons]);
      if (runs.length === 1) await new Promise<void>((r) => { release = r; });
      return true;
    }, { coalesceMs: 100, coalesceMaxMs: 400, retryMinMs: 250, retryMaxMs: 1000 }, clock);
    s.trigger('start');
    for (let i = 0; i < 100; i++) s.trigger(`event${i % 3}`);
    expect(runs).toEqual([['start']]);
    release();
    await tick();
    expect(timers.map((t) => t.ms)).toEqual([100]);
    fire();
    await tick();
    expect(runs).toEqual([['start'], ['event0', 'event1', 'event2']]);
  });

  it('doubles the pause while triggers keep coming, and runs at once again after a quiet run', async () => {
    const runs: number[] = [];
    const { clock, timers, fire } = manualClock();
    let s!: Scheduler;
    s = new Scheduler(async () => {
      runs.push(runs.length);
      if (runs.length <= 4) s.trigger('more');
      return true;
    }, { coalesceMs: 100, coalesceMaxMs: 400, retryMinMs: 250, retryMaxMs: 1000 }, clock);
    s.trigger('start');
    await tick();
    const pauses: number[] = [];
    while (timers.length > 0) { pauses.push(timers[0]!.ms); fire(); await tick(); }
    expect(pauses).toEqual([100, 200, 400, 400]);
    s.trigger('later');
    await tick();
    expect(runs).toHaveLength(6);
  });

  it('retries a failed run with growing backoff, then resets', async () => {
    let ok = false;
    const { clock, timers, fire } = manualClock();
    const s = new Scheduler(async () => ok, { coalesceMs: 100, coalesceMaxMs: 400, retryMinMs: 250, retryMaxMs: 1000 }, clock);
    s.trigger('start');
    await tick();
    fire(); await tick();
    fire(); await tick();
    fire(); await tick();
    expect(timers.map((t) => t.ms)).toEqual([1000]);
    ok = true;
    fire(); await tick();
    expect(timers).toEqual([]);
  });
});

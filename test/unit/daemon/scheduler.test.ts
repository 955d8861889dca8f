import { describe, expect, it } from 'vitest';
import { Scheduler, type Clock, type SchedulerOptions } from '../../../src/daemon/scheduler.js';

/** Virtual time: timers fire when the test advances the clock past them. */
function virtualClock() {
  let now = 0;
  let next = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock = {
    setTimeout: (fn, ms) => { timers.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout: (handle) => { timers.delete(handle as number); },
  };
  /** Moves time forward by ms, firing due timers in order and letting each run settle. */
  async function advance(ms: number): Promise<void> {
    await tick();
    const end = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
      await tick();
    }
    now = end;
    await tick();
  }
  return { clock, advance, now: () => now };
}

const tick = async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };
const OPTIONS: SchedulerOptions = { coalesceMs: 100, coalesceMaxMs: 4000, settleMs: 300, retryMinMs: 250, retryMaxMs: 1000 };

/** A scheduler whose runs take runMs of virtual time; records when each run started and its reasons. */
function scheduled(runMs = 0, result = () => true) {
  const v = virtualClock();
  const runs: { at: number; reasons: string[] }[] = [];
  const s = new Scheduler(async (reasons) => {
    runs.push({ at: v.now(), reasons: [...reasons] });
    if (runMs > 0) await new Promise<void>((r) => v.clock.setTimeout(r, runMs));
    return result();
  }, OPTIONS, v.clock);
  return { s, runs, ...v };
}

describe('scheduler', () => {
  it('runs the first trigger at once, and coalesces what arrives meanwhile into one more run', async () => {
    const { s, runs, advance } = scheduled(50);
    s.trigger('start');
    for (let i = 0; i < 100; i++) s.trigger(`event${i % 3}`);
    expect(runs.map((r) => r.reasons)).toEqual([['start']]);
    await advance(50);
    await advance(100);
    expect(runs.map((r) => r.reasons)).toEqual([['start'], ['event0', 'event1', 'event2']]);
    expect(runs[1]!.at).toBe(150);
  });

  it('an isolated trigger after a quiet run runs at once', async () => {
    const { s, runs, advance } = scheduled(50);
    s.trigger('a');
    await advance(500);
    s.trigger('b');
    await advance(0);
    expect(runs.map((r) => r.at)).toEqual([0, 500]);
  });

  it.each([[20, 170], [100, 170], [180, 170], [50, 60], [400, 200]])(
    'a burst of 100 starts (runs of %i ms, a start every %i ms) costs a handful of runs; the last waits a settle gap',
    async (runMs, every) => {
      const { s, runs, advance, now } = scheduled(runMs);
      s.trigger('first');
      // Docker reports each start as a network connect followed by the container's start.
      for (let i = 0; i < 100; i++) {
        await advance(every - 2);
        s.trigger(`connect${i}`);
        await advance(2);
        s.trigger(`start${i}`);
      }
      const lastStart = now();
      await advance(10_000);
      expect(runs.length).toBeLessThanOrEqual(10);
      const last = runs[runs.length - 1]!;
      expect(last.reasons).toContain('start99');
      expect(last.at - lastStart).toBeLessThanOrEqual(runMs + OPTIONS.settleMs);
      // Every start was seen by some run.
      expect(new Set(runs.flatMap((r) => r.reasons)).size).toBe(201);
    });

  it('containers started one after another are each applied within the first pause', async () => {
    const { s, runs, advance, now } = scheduled(50);
    const waits: number[] = [];
    for (let i = 0; i < 20; i++) {
      await advance(400);
      s.trigger(`connect${i}`);
      await advance(2);
      const at = now();
      s.trigger(`start${i}`);
      await advance(200);
      waits.push(runs.find((r) => r.reasons.includes(`start${i}`))!.at - at);
    }
    expect(Math.max(...waits)).toBeLessThanOrEqual(OPTIONS.coalesceMs + 50);
  });

  it('pauses grow fourfold while triggers keep coming, up to the maximum', async () => {
    const { s, runs, advance } = scheduled(0);
    s.trigger('start');
    // A trigger every 50 ms: no quiet gap ever ends a pause early.
    for (let t = 0; t < 20_000; t += 50) { s.trigger('more'); await advance(50); }
    const gaps = runs.slice(1).map((r, i) => r.at - runs[i]!.at);
    expect(gaps.slice(0, 5)).toEqual([100, 400, 1600, 4000, 4000]);
  });

  it('an urgent trigger, and a trigger alone, skip a grown pause', async () => {
    for (const [reason, opts] of [['wiped:filter', { urgent: true }], ['start:one', { alone: true }]] as const) {
      const { s, runs, advance } = scheduled(0);
      s.trigger('start');
      for (let t = 0; t < 3000; t += 50) { s.trigger('more'); await advance(50); }
      const before = runs.length;
      s.trigger(reason, opts);
      await advance(0);
      expect(runs.length).toBe(before + 1);
      expect(runs[runs.length - 1]!.reasons).toContain(reason);
    }
  });

  it('a trigger alone waits out a retry', async () => {
    const failing = scheduled(0, () => false);
    failing.s.trigger('start');
    await failing.advance(0);
    failing.s.trigger('start:one', { alone: true });
    await failing.advance(100);
    expect(failing.runs, 'the backoff (250 ms) holds it').toHaveLength(1);
    await failing.advance(200);
    expect(failing.runs).toHaveLength(2);
  });

  it('retries a failed run with growing backoff, then resets', async () => {
    let ok = false;
    const { s, runs, advance } = scheduled(0, () => ok);
    s.trigger('start');
    await advance(250 + 500 + 1000);
    expect(runs.map((r) => r.at)).toEqual([0, 250, 750, 1750]);
    ok = true;
    await advance(1000);
    expect(runs.map((r) => r.at)).toEqual([0, 250, 750, 1750, 2750]);
    await advance(10_000);
    expect(runs).toHaveLength(5);
  });

  it('an urgent trigger cuts a retry backoff short; an ordinary one waits it out', async () => {
    let ok = false;
    const { s, runs, advance } = scheduled(0, () => ok);
    s.trigger('start');
    await advance(250 + 500);
    expect(runs.map((r) => r.at)).toEqual([0, 250, 750]);
    // Backoff now 1000 ms: a resync waits, a wipe does not.
    await advance(100);
    s.trigger('resync');
    await advance(100);
    expect(runs).toHaveLength(3);
    ok = true;
    s.trigger('wiped:ipv4/filter', { urgent: true });
    await advance(0);
    expect(runs).toHaveLength(4);
    expect(runs[3]!.at).toBe(950);
    expect(runs[3]!.reasons).toEqual(['start', 'resync', 'wiped:ipv4/filter']);
  });

  it('offers an urgent trigger to the run under way, and queues it when that run declines', async () => {
    const v = virtualClock();
    const runs: string[][] = [];
    let accept = true;
    const offered: string[] = [];
    const s = new Scheduler(async (reasons) => {
      runs.push([...reasons]);
      await new Promise<void>((r) => v.clock.setTimeout(r, 5000));
      return true;
    }, OPTIONS, v.clock, (reason) => { offered.push(reason); return accept; });
    s.trigger('start');
    await v.advance(100);
    s.trigger('wiped:ipv4/nat', { urgent: true });
    s.trigger('resync');
    expect(offered).toEqual(['wiped:ipv4/nat']);
    accept = false;
    s.trigger('drift', { urgent: true });
    await v.advance(5000);
    expect(runs).toEqual([['start'], ['resync', 'drift']]);
  });
});

describe('stopping', () => {
  it('waits for a run under way, and starts none after', async () => {
    let release: () => void = () => undefined;
    const runs: string[][] = [];
    const s = new Scheduler(async (reasons) => {
      runs.push([...reasons]);
      await new Promise<void>((r) => { release = r; });
      return true;
    });
    s.trigger('start');
    s.trigger('docker:start');
    let stopped = false;
    const stopping = s.stop().then(() => { stopped = true; });
    await tick();
    expect(stopped, 'the run under way has not ended yet').toBe(false);
    release();
    await stopping;
    s.trigger('resync', { urgent: true });
    await tick();
    expect(runs).toEqual([['start']]);
  });
});

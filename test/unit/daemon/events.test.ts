import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { watchEvents, type StartWatch } from '../../../src/daemon/events.js';
import { Scheduler, type Clock } from '../../../src/daemon/scheduler.js';

const ID = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const NET = 'c'.repeat(64);
const container = (action: string, id = ID) => JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id } });
const network = (action: string, id = ID) => JSON.stringify({ Type: 'network', Action: action, Actor: { ID: NET, Attributes: { container: id } } });
const settle = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };

/**
 * The daemon's path from the event stream to a run: watchEvents feeding the real Scheduler,
 * on a clock that moves only when the test says. Runs take 20 ms, as a small apply does.
 */
function daemonLike(starts?: StartWatch) {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  const clock: Clock = {
    setTimeout: (fn, ms) => { timers.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout: (h) => { timers.delete(h as number); },
  };
  const advance = async (ms: number) => {
    const end = now + ms;
    for (;;) {
      await settle();
      const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = end;
    await settle();
  };
  const runs: { at: number; reasons: readonly string[] }[] = [];
  const scheduler = new Scheduler(async (reasons) => {
    runs.push({ at: now, reasons });
    await new Promise<void>((r) => clock.setTimeout(r, 20));
    return true;
  }, { coalesceMs: 100, coalesceMaxMs: 4000, settleMs: 300, retryMinMs: 250, retryMaxMs: 1000 }, clock);
  const stream = new PassThrough();
  const docker = { getEvents: async () => stream } as unknown as Docker;
    const watch = watchEvents(docker, pino({ level: 'silent' }), (t) => scheduler.trigger(t.reason, { urgent: t.urgent === true, alone: t.alone === true }), starts, () => now);
  const send = async (line: string) => { stream.write(`${line}\n`); await settle(); };
  /** When the runs that carried `reason` started. */
  const runsFor = (reason: string) => runs.filter((r) => r.reasons.includes(reason)).map((r) => r.at);
  /** A quiet second after the stream connected, then `docker run`'s create and network connect. */
  const createAndConnect = async () => {
    await advance(1000);
    await send(container('create'));
    await send(network('connect'));
  };
  return { runs, runsFor, createAndConnect, advance, send, now: () => now, stop: () => { watch.stop(); scheduler.stop(); } };
}

describe('docker events as triggers', () => {
  it("a start right after its container's connect (docker run) applies at once, not after a coalescing pause", async () => {
    const d = daemonLike();
    await d.createAndConnect();
    await d.advance(3);
    const startedAt = d.now();
    await d.send(container('start'));
    await d.advance(1000);
    const forStart = d.runs.filter((r) => r.reasons.includes(`docker:container:start:${ID}`));
    expect(forStart.map((r) => r.at)).toEqual([startedAt]);
    expect(d.runs.flatMap((r) => r.reasons)).not.toContain(`docker:network:connect:${ID}`);
    d.stop();
  });

  it('the same after a stop: docker start connects, then starts', async () => {
    const d = daemonLike();
    await d.advance(1000);
    await d.send(container('die'));
    await d.advance(1000);
    await d.send(network('connect'));
    await d.advance(3);
    const startedAt = d.now();
    await d.send(container('start'));
    await d.advance(1000);
    expect(d.runsFor(`docker:container:start:${ID}`)).toEqual([startedAt]);
    d.stop();
  });

  it('a connect of a running container (docker network connect) is a trigger of its own, at once', async () => {
    const d = daemonLike();
    await d.advance(1000);
    await d.send(container('create', OTHER));
    await d.send(container('start', OTHER));
    await d.advance(1000);
    const at = d.now();
    await d.send(network('connect', OTHER));
    await d.advance(1000);
    expect(d.runsFor(`docker:network:connect:${OTHER}`)).toEqual([at]);
    // Untracked containers (created before the stream connected) keep every trigger.
    await d.send(network('connect'));
    await d.advance(1000);
    expect(d.runs.flatMap((r) => r.reasons)).toContain(`docker:network:connect:${ID}`);
    d.stop();
  });

  describe('with containers published at their connect (the inventory reader as StartWatch)', () => {
    /**
     * A reader that can publish every created container early, or none; `exact`: what it
     * published is all the start shows (false: an IPv6 address, where Docker may add bindings).
     * It notes what it is told.
     */
    function watch(early: boolean, exact = true) {
      const told: string[] = [];
      const starts: StartWatch = {
        created: (id) => { told.push(`created ${id}`); },
        connected: (id, net) => { told.push(`connected ${id} ${net}`); return early; },
        started: (id) => { told.push(`started ${id}`); return early && exact; },
        dropped: (id) => { told.push(`dropped ${id}`); return early; },
      };
      return { told, starts };
    }

    it("docker run: the connect applies at once, the start is no trigger, so the next docker run's connect applies at once too", async () => {
      const w = watch(true);
      const d = daemonLike(w.starts);
      await d.createAndConnect();
      const connectedAt = d.now();
      await d.advance(250);
      await d.send(container('start'));
      // The next docker run, right after: its connect comes 80 ms after the first one's start.
      await d.advance(80);
      await d.send(container('create', OTHER));
      await d.send(network('connect', OTHER));
      const nextAt = d.now();
      await d.advance(1000);
      expect(d.runsFor(`docker:network:connect:${ID}`)).toEqual([connectedAt]);
      expect(d.runsFor(`docker:network:connect:${OTHER}`)).toEqual([nextAt]);
      expect(d.runs.flatMap((r) => r.reasons), 'the start adds nothing to the early rules').not.toContain(`docker:container:start:${ID}`);
      expect(w.told.slice(0, 3)).toEqual([`created ${ID}`, `connected ${ID} ${NET}`, `started ${ID}`]);
      d.stop();
    });

    it('docker runs one after another are each applied at once, however long the stream; a burst of them still coalesces', async () => {
      // Published at the connect, and the start is a trigger too (it shows an IPv6 address): two runs per container.
      const w = watch(true, false);
      const d = daemonLike(w.starts);
      await d.advance(1000);
      const ids = Array.from({ length: 30 }, (_, i) => i.toString(16).padStart(64, '0'));
      const waits: number[] = [];
      for (const id of ids) {
        await d.send(container('create', id));
        await d.send(network('connect', id));
        const at = d.now();
        await d.advance(100);
        await d.send(container('start', id));
        // The client's answer and the next docker run's create, ~300 ms after this one's (as in the lab): its connect lands inside the last one's cooldown.
        await d.advance(200);
        waits.push(d.runsFor(`docker:network:connect:${id}`)[0]! - at);
      }
      expect(Math.max(...waits), 'no connect waits out a pause or the settle gap').toBe(0);
      // 30 containers created at once, then connected and started over 3 s: a handful of runs.
      const burst = Array.from({ length: 30 }, (_, i) => (i + 100).toString(16).padStart(64, '0'));
      const before = d.runs.length;
      for (const id of burst) await d.send(container('create', id));
      for (const id of burst) {
        await d.send(network('connect', id));
        await d.advance(50);
        await d.send(container('start', id));
        await d.advance(50);
      }
      await d.advance(5000);
      expect(d.runs.length - before).toBeLessThanOrEqual(8);
      expect(new Set(d.runs.slice(before).flatMap((r) => r.reasons)).size, 'every trigger ran').toBe(60);
      d.stop();
    });

    it('a connect the reader cannot publish early (an ephemeral port) is no trigger: the start applies at once, as without it', async () => {
      const w = watch(false);
      const d = daemonLike(w.starts);
      await d.createAndConnect();
      await d.advance(3);
      const startedAt = d.now();
      await d.send(container('start'));
      await d.advance(1000);
      expect(d.runs.flatMap((r) => r.reasons)).not.toContain(`docker:network:connect:${ID}`);
      expect(d.runsFor(`docker:container:start:${ID}`)).toEqual([startedAt]);
      d.stop();
    });

    it("a connect that comes with its create, before the create's inspect answered, is a trigger once it has", async () => {
      let answer: (yes: boolean) => void = () => undefined;
      const told: string[] = [];
      const starts: StartWatch = {
        created: () => undefined,
        connected: () => new Promise<boolean>((resolve) => { answer = resolve; }),
        started: (id) => { told.push(`started ${id}`); return false; },
        dropped: () => false,
      };
      const d = daemonLike(starts);
      await d.advance(1000);
      await d.send(`${container('create')}\n${network('connect')}`);
      await d.advance(5);
      expect(d.runs.flatMap((r) => r.reasons)).not.toContain(`docker:network:connect:${ID}`);
      const answeredAt = d.now();
      answer(true);
      await d.advance(100);
      expect(d.runsFor(`docker:network:connect:${ID}`)).toEqual([answeredAt]);
      d.stop();
    });

    it('a start that may show more than was published early (an IPv6 address) is a trigger, at once', async () => {
      const d = daemonLike(watch(true, false).starts);
      await d.createAndConnect();
      await d.advance(250);
      const startedAt = d.now();
      await d.send(container('start'));
      await d.advance(1000);
      expect(d.runsFor(`docker:container:start:${ID}`)).toEqual([startedAt]);
      d.stop();
    });

    it('a start that fails after its connect (a disconnect) drops it and is an urgent trigger: its early rules go at once, its address is free', async () => {
      const w = watch(true);
      const d = daemonLike(w.starts);
      await d.createAndConnect();
      await d.advance(50);
      // Within the connect's cooldown: an ordinary trigger would wait a coalescing pause.
      const at = d.now();
      await d.send(network('disconnect'));
      await d.advance(1000);
      expect(w.told.at(-1)).toBe(`dropped ${ID}`);
      expect(d.runsFor(`docker:network:disconnect:${ID}`)).toEqual([at]);
      await d.send(container('create', OTHER));
      await d.send(container('destroy', OTHER));
      expect(w.told.slice(-2)).toEqual([`created ${OTHER}`, `dropped ${OTHER}`]);
      d.stop();
    });

    it('a created network is no trigger, as a created container is not', async () => {
      const d = daemonLike(watch(true).starts);
      await d.advance(1000);
      const runs = d.runs.length;
      await d.send(JSON.stringify({ Type: 'network', Action: 'create', Actor: { ID: NET, Attributes: { name: 'appnet', type: 'bridge' } } }));
      await d.advance(1000);
      expect(d.runs.length).toBe(runs);
      d.stop();
    });
  });
});

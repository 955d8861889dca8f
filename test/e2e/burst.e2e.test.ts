/**
 * 100 containers started at once: all reachable per policy within 5 s of the last start,
 * with a handful of applies (the scheduler runs the first event at once and coalesces
 * the rest of the burst), not one apply per container.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { httpRunArgs } from '../../src/lab/containers.js';
import { INTERNAL_ONLY, scratch, startDockward } from './dockward.js';

const COUNT = 100;
const INT = LAB_ADDR.internal.host;
const names = Array.from({ length: COUNT }, (_, i) => `b${i}`);
const port = (i: number) => 20000 + i;

let lab: Lab;
const files = scratch();

beforeAll(async () => {
  lab = await startLab();
  for (let i = 0; i < COUNT; i += 20) {
    await Promise.all(names.slice(i, i + 20).map((name, j) =>
      lab.docker(['create', ...httpRunArgs(name, { publish: [`${port(i + j)}:80`] }).slice(2)])));
  }
}, 300_000);

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

/**
 * Probes every container that has not answered yet and records when each first answered,
 * so the bound is checked per container (a slow round of probes cannot hide a late one).
 */
async function probeRound(answered: Map<number, number>): Promise<void> {
  const missing = names.map((_, i) => i).filter((i) => !answered.has(i));
  for (let k = 0; k < missing.length; k += 25) {
    await Promise.all(missing.slice(k, k + 25).map(async (i) => {
      const body = await lab.http('internal', `http://${INT}:${port(i)}/`, { timeoutMs: 500 });
      if (body === names[i]) answered.set(i, Date.now());
    }));
  }
}

it('8. 100 containers started in a burst are all reachable within 5 s of the last start, with at most 10 applies', async () => {
  const policy = files.policy('policy.yaml', INTERNAL_ONLY);
  const d = startDockward(lab, ['--policy', policy, '--state-dir', files.dir]);
  try {
    await d.waitForLog((r) => r.msg === 'applied');
    const before = d.logs().filter((r) => r.msg === 'applied').length;
    const docker = new Docker({ socketPath: lab.socketPath });
    const started = Date.now();
    await Promise.all(names.map((n) => docker.getContainer(n).start()));
    const lastStart = Date.now();
    const answered = new Map<number, number>();
    while (answered.size < COUNT && Date.now() - lastStart < 8000) await probeRound(answered);
    const late = names.map((_, i) => i).filter((i) => (answered.get(i) ?? Infinity) - lastStart > 5000);
    const ms = Math.max(...answered.values()) - lastStart;
    if (late.length > 0) {
      const applied = d.logs().filter((r) => r.msg === 'applied').map((r) => ({ reasons: (r['reasons'] as string[]).length, ms: r['ms'], time: r['time'] }));
      throw new Error(`${late.length} containers not reachable within 5000 ms of the last start (${late.slice(0, 10).join(',')}); last start at ${lastStart}; applies ${JSON.stringify(applied)}`);
    }
    const applies = d.logs().filter((r) => r.msg === 'applied').length - before;
    const timeline = d.logs().filter((r) => r.msg === 'applied').map((r) => `${(r['time'] as number) - lastStart}ms(${r['ms']}ms)`);
    console.log(`applies relative to the last start: ${timeline.join(' ')}`);
    console.log(`burst of ${COUNT}: starts took ${lastStart - started} ms; all reachable ${ms} ms after the last start; ${applies} applies`);
    expect(applies).toBeLessThanOrEqual(10);
  } finally {
    expect(await d.stop()).toBe(0);
  }
}, 300_000);

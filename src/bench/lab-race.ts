/**
 * Side by side in the real lab: containers started one after another, once under dockerd
 * with its own iptables on and once with its rules off and `dockward run` going. For
 * each, the time from `docker run` being issued until a client gets an answer through the
 * published port. Each side keeps one lab for all its containers (its ruleset grows as a
 * host's does); each first starts a few containers untimed (image and caches warm), and
 * dockward's run starts only once its first apply is in its status file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_ADDR, spawnIn, startLab, type Lab } from '../lab/index.js';
import { StateDir } from '../daemon/state-file.js';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/**
 * Once `docker run` has returned (the container is running: no answer is possible before,
 * and probing earlier would only load the machine), probes start every 20 ms, overlapping:
 * one that lands on dockerd's idle socket (no DNAT yet) hangs until its timeout, and
 * waiting for it would add that timeout to the figure. Counted: `docker run` issued →
 * the first probe that got the container's answer.
 */
async function firstAnswer(lab: Lab, name: string, port: number, deadlineMs = 20_000): Promise<number> {
  const started = performance.now();
  let answered: number | undefined;
  const probe = async () => {
    if ((await lab.http('external', `http://${LAB_ADDR.external.host}:${port}/`, { timeoutMs: 300 })) === name) answered ??= performance.now() - started;
  };
  await lab.runHttp(name, { publish: [`${port}:80`], wait: false });
  const inFlight: Promise<void>[] = [];
  while (answered === undefined && performance.now() - started < deadlineMs) {
    inFlight.push(probe());
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(inFlight);
  if (answered === undefined) throw new Error(`${name} not reachable within ${deadlineMs} ms`);
  return answered;
}

const WARM_UP = 3;

/** `first`: where this run's names and ports start, so the runs on one lab never share them; the lab's first run warms up. */
async function race(lab: Lab, count: number, first: number): Promise<number[]> {
  if (first === 0) for (let i = 0; i < WARM_UP; i++) await firstAnswer(lab, `w${i}`, 29000 + i);
  const times: number[] = [];
  for (let i = first; i < first + count; i++) times.push(await firstAnswer(lab, `r${i}`, 30000 + i));
  return times;
}

/** One side of the race: a lab kept up for all its containers, so the ruleset grows as it would on a host. */
export interface RaceSide {
  /** `count` more containers, one after another (the first call warms up first); their times. */
  race(count: number): Promise<number[]>;
  stop(): Promise<void>;
}

function side(lab: Lab, stopExtra: () => Promise<void> = async () => undefined): RaceSide {
  let next = 0;
  return {
    async race(count) {
      const times = await race(lab, count, next);
      next += count;
      return times;
    },
    async stop() {
      await stopExtra();
      await lab.stop();
    },
  };
}

export async function dockerOwnRules(): Promise<RaceSide> {
  return side(await startLab({ ipForward: false, dockerdArgs: ['--iptables=true'] }));
}

/** dockward's first apply is done once its status file records one. */
async function firstApply(stateDir: string, deadlineMs = 30_000): Promise<void> {
  const status = new StateDir(stateDir);
  const started = performance.now();
  while (performance.now() - started < deadlineMs) {
    if ((await status.readStatus())?.lastApply) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`dockward made no apply within ${deadlineMs} ms`);
}

export async function withDockward(): Promise<RaceSide> {
  const lab = await startLab();
  const state = mkdtempSync(join(tmpdir(), 'dw-bench-'));
  const daemon = spawnIn(lab.hostNs, process.execPath, [CLI, 'run', '--state-dir', state, '--docker-host', lab.dockerHost, '--log-level', 'warn'], true);
  const stop = async () => {
    daemon.kill('SIGTERM');
    await daemon.catch(() => undefined);
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await firstApply(state);
  } catch (error) {
    await stop();
    await lab.stop();
    throw error;
  }
  return side(lab, stop);
}

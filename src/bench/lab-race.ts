/**
 * Side by side in the real lab: 100 containers started one after another, once under
 * dockerd with its own iptables on and once with its rules off and `dockward run` going.
 * For each, the time from `docker run` being issued until a client gets an answer through
 * the published port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_ADDR, spawnIn, startLab, type Lab } from '../lab/index.js';

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

async function race(lab: Lab, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await firstAnswer(lab, `r${i}`, 30000 + i));
  return times;
}

export async function dockerOwnRules(count: number): Promise<number[]> {
  const lab = await startLab({ ipForward: false, dockerdArgs: ['--iptables=true'] });
  try {
    return await race(lab, count);
  } finally {
    await lab.stop();
  }
}

export async function withDockward(count: number): Promise<number[]> {
  const lab = await startLab();
  const state = mkdtempSync(join(tmpdir(), 'dw-bench-'));
  const daemon = spawnIn(lab.hostNs, process.execPath, [CLI, 'run', '--state-dir', state, '--docker-host', lab.dockerHost, '--log-level', 'warn'], true);
  try {
    await new Promise((r) => setTimeout(r, 1500));
    return await race(lab, count);
  } finally {
    daemon.kill('SIGTERM');
    await daemon.catch(() => undefined);
    await lab.stop();
    rmSync(state, { recursive: true, force: true });
  }
}

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

async function firstAnswer(lab: Lab, name: string, port: number, deadlineMs = 20_000): Promise<number> {
  const started = performance.now();
  await lab.runHttp(name, { publish: [`${port}:80`], wait: false });
  while (performance.now() - started < deadlineMs) {
    if ((await lab.http('external', `http://${LAB_ADDR.external.host}:${port}/`, { timeoutMs: 300 })) === name) return performance.now() - started;
  }
  throw new Error(`${name} not reachable within ${deadlineMs} ms`);
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

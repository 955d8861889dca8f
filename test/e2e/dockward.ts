/**
 * Running dockward inside a lab's host namespace, never in the machine's own: one-shot
 * commands, and `dockward run` as a process with its pid, its logs and a clean stop.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/index.js';
import { spawnIn, type ExecResult } from '../../src/lab/index.js';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

/** A scratch directory for policies and state, removed by cleanup(). */
export function scratch(): { dir: string; policy(name: string, yaml: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dw-e2e-'));
  return {
    dir,
    policy(name, yaml) {
      const file = join(dir, name);
      writeFileSync(file, yaml);
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function dockward(lab: Lab, args: readonly string[], env: Record<string, string> = {}): Promise<ExecResult> {
  return lab.inHost(process.execPath, [CLI, ...args, '--docker-host', lab.dockerHost], { reject: false, env: { ...process.env, ...env } as Record<string, string> });
}

export interface RunningDockward {
  readonly pid: number;
  /** Parsed pino records so far. */
  logs(): { msg: string; [key: string]: unknown }[];
  waitForLog(match: (r: { msg: string; [key: string]: unknown }) => boolean, deadlineMs?: number): Promise<void>;
  /** SIGTERM (or the given signal) and wait for the exit code (or the signal that ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | string | undefined>;
}

/** `wrap`: a command that runs the rest of its arguments (e.g. in a mount namespace of its own); its pid must become dockward's. */
export function startDockward(lab: Lab, args: readonly string[], env: Record<string, string> = {}, wrap: readonly string[] = []): RunningDockward {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const command = [...wrap, 'env', ...vars, process.execPath, CLI, 'run', ...args, '--docker-host', lab.dockerHost];
  const child = spawnIn(lab.hostNs, command[0]!, command.slice(1), true);
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  child.stdout?.on('data', () => undefined);
  const logs = () => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
  return {
    pid: child.pid!,
    logs,
    async waitForLog(match, deadlineMs = 10_000) {
      await eventually(async () => logs().some(match), deadlineMs).catch(() => {
        throw new Error(`no matching log line within ${deadlineMs} ms; logs:\n${text}`);
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await child;
      if (result.exitCode !== 0) console.log(`dockward run ended with ${result.exitCode ?? result.signal}; its log:\n${text}`);
      return result.exitCode ?? result.signal;
    },
  };
}

/** Poll until `check` returns true or the deadline passes (a convergence bound, not a speed target). */
export async function eventually(check: () => Promise<boolean>, deadlineMs: number, intervalMs = 100): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > deadlineMs) throw new Error(`not reached within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The lab host's iptables-save without comment lines and counters, for before/after comparisons. */
export async function liveRules(lab: Lab): Promise<string> {
  return (await lab.inHost('iptables-save', [])).stdout.split('\n')
    .filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]')).join('\n');
}

/** A policy that admits every published port from the lab's internal link only. */
export const INTERNAL_ONLY = `version: 1
zones:
  internal: { interfaces: [int0] }
defaults: { published: deny }
rules:
  - { from: [zone:internal] }
`;

/** The rule lines of one table in iptables-save text. */
export function tableLines(save: string, table: string): string[] {
  return (save.split(`*${table}\n`)[1]?.split('COMMIT')[0] ?? '').split('\n').filter((l) => l.startsWith('-A '));
}

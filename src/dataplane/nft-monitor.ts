/**
 * `nft monitor` on the nft backend: the kernel reports every change to a table, chain or
 * rule as it commits, so a foreign edit is seen at once instead of at the next read-back.
 * Only changes to the tables dockward uses (ip/ip6 raw, mangle, filter, nat) count. It runs
 * in the daemon's own namespace; when it dies it is started again with backoff, and each
 * restart counts as a change (events in the gap were missed). It is paused while dockward
 * applies: nft prints every rule written, and on a full apply of thousands of rules that
 * costs as much CPU as the restore itself; resuming counts as a change, so a foreign edit
 * made meanwhile is still read back. Whatever it reports, the hash tags decide: an own
 * write never causes an apply.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import type { Logger } from '../log.js';

/** "delete rule ip filter FORWARD handle 4", "add chain ip6 nat DOCKWARD-X", "delete table ip raw". */
const CHANGE = /^(?:add|insert|replace|create|delete|flush|destroy) (?:table|chain|rule) (ip6?) (raw|mangle|filter|nat)\b/;

export function relevantChange(line: string): boolean {
  return CHANGE.test(line);
}

/** A relevant change that takes something away: what a wipe is made of (of dockward's own hot applies, only a stop's). */
export function removal(line: string): boolean {
  return /^(?:delete|flush|destroy) /.test(line);
}

export interface MonitorProcess {
  readonly stdout: Readable;
  /** Settles when the process ends, whatever the reason. */
  readonly ended: Promise<unknown>;
  kill(): void;
}

export interface RuleMonitorOptions {
  readonly log: Logger;
  /** Called for each relevant change line, and with 'restarted' after the monitor came back. */
  readonly onChange: (line: string) => void;
  readonly spawn?: () => MonitorProcess;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** How long after its start a monitor is taken to listen (default 5 s). */
  readonly startMs?: number;
}

export interface RuleMonitor {
  /**
   * Whether a monitor reports changes now: running (not paused, not dead and waiting for its
   * restart) and past its start, during which `nft monitor` reads the whole ruleset before
   * it subscribes (a few seconds on a large host), so changes in that time are missed.
   */
  listening(): boolean;
  /** Stop watching for now (dockward's own apply runs). */
  pause(): void;
  /** Watch again; reported as a change ('restarted'), since the pause may have hidden one. */
  resume(): void;
  stop(): void;
}

function spawnNft(): MonitorProcess {
  const child = execa('nft', ['monitor'], { buffer: false, reject: false, stdin: 'ignore', stderr: 'ignore' });
  return { stdout: child.stdout, ended: child.then(() => undefined, () => undefined), kill: () => child.kill('SIGKILL') };
}

/** A monitor that ran this long before dying starts the backoff from the bottom again. */
const HEALTHY_MS = 30_000;

export function watchRuleChanges(o: RuleMonitorOptions): RuleMonitor {
  const spawn = o.spawn ?? spawnNft;
  const minMs = o.backoffMinMs ?? 500;
  const maxMs = o.backoffMaxMs ?? 30_000;
  let backoff = 0;
  let stopped = false;
  let paused = false;
  let current: MonitorProcess | undefined;
  let currentSince = 0;
  let timer: NodeJS.Timeout | undefined;
  const startMs = o.startMs ?? 5_000;

  const start = (restart: boolean): void => {
    if (stopped || paused) return;
    const started = Date.now();
    let proc: MonitorProcess;
    try {
      proc = spawn();
    } catch (error) {
      o.log.warn({ err: (error as Error).message }, 'nft monitor cannot start; read-back timer only');
      return again(started);
    }
    current = proc;
    currentSince = started;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (relevantChange(line)) o.onChange(line);
    });
    if (restart) o.onChange('restarted');
    void proc.ended.then(() => {
      if (stopped || current !== proc) return;
      current = undefined;
      o.log.warn({}, 'nft monitor ended; restarting it with backoff (read-back timer meanwhile)');
      again(started);
    });
  };

  const again = (started: number): void => {
    if (stopped || paused) return;
    backoff = Date.now() - started > HEALTHY_MS ? minMs : Math.min(maxMs, backoff === 0 ? minMs : backoff * 2);
    timer = setTimeout(() => start(true), backoff);
  };

  start(false);
  return {
    listening: () => current !== undefined && Date.now() - currentSince >= startMs,
    pause() {
      if (paused || stopped) return;
      paused = true;
      if (timer) clearTimeout(timer);
      const proc = current;
      current = undefined;
      proc?.kill();
    },
    resume() {
      if (!paused || stopped) return;
      paused = false;
      start(true);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      current?.kill();
    },
  };
}

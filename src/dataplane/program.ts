/**
 * A program started ahead of need. Starting `iptables-nft-restore` costs about as much as
 * loading one container's chains with it (measured here: 16 ms for a fresh process, 8 ms
 * for one already waiting on its input): the fork of a large Node process, the exec,
 * loading xtables. The daemon keeps one waiting per family, so an event's restore pays the
 * kernel's work, not the program's start; and one `nft` for a stop's flushes.
 *
 * Safe to leave waiting: the nft restore and nft read their input before they touch
 * anything (they take no lock, and fetch the rules only to carry out the input), and one never used
 * reads end-of-file when dockward exits, for whatever reason, and exits having done
 * nothing (empty input under --noflush). Legacy's restore gets none: it would save ~2 ms
 * of the ~150 an event costs there at 1,000 containers, and a waiting program that took the
 * xtables lock as it starts (no version here does) would stall every iptables user.
 */
import { execa, type ResultPromise } from 'execa';

export interface Outcome {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  /** The program is not installed. */
  readonly missing?: boolean;
}

type Waiting = ResultPromise<{ reject: false; stdin: 'pipe'; stdout: 'ignore' }>;

/** A run's limit, counted from its input (a waiting program has no limit while it waits). */
const TIMEOUT_MS = 60_000;
/** A fresh standby is started this long after the last one was used: off the path of the restore under way. */
const REFILL_MS = 25;

type Handle = { ref?: () => void; unref?: () => void } | null;

/** Whether the process and its pipes keep Node's event loop running. */
function keepsAlive(child: Waiting, on: boolean): void {
  for (const handle of [child, child.stdin, child.stderr] as Handle[]) {
    if (on) handle?.ref?.();
    else handle?.unref?.();
  }
}

export interface Program {
  /** Run the program with `text` as its input: the one waiting, or a fresh one. */
  run(text: string): Promise<Outcome>;
}

/**
 * The program `file args`, run with an input. `ahead`: after its first run, one is kept
 * started and waiting for the next input. One that dies before its use is not replaced:
 * the runs go back to fresh programs.
 */
export function program(file: string, args: readonly string[], { ahead = false } = {}): Program {
  let waiting: Waiting | undefined;
  let refill: NodeJS.Timeout | undefined;
  /** No program is kept waiting: not asked for, or the last one died unused. */
  let freshOnly = !ahead;

  const start = (): void => {
    refill = undefined;
    if (waiting || freshOnly) return;
    const child = execa(file, args, { reject: false, stdin: 'pipe', stdout: 'ignore' });
    // Waiting must not keep dockward alive; the one in use does again (take).
    keepsAlive(child, false);
    waiting = child;
    void child.then(() => {
      if (waiting !== child) return;
      waiting = undefined;
      freshOnly = true;
    });
  };

  const take = (): Waiting | undefined => {
    const child = waiting;
    waiting = undefined;
    if (!child) return undefined;
    keepsAlive(child, true);
    return child;
  };

  return {
    async run(text) {
      const child = take();
      try {
        if (!child) {
          const result = await execa(file, args, { input: text, reject: false, timeout: TIMEOUT_MS });
          return { exitCode: result.exitCode, stderr: result.stderr, ...(result.code === 'ENOENT' ? { missing: true } : {}) };
        }
        const timer = setTimeout(() => child.kill(), TIMEOUT_MS);
        child.stdin.end(text);
        const result = await child.finally(() => clearTimeout(timer));
        return { exitCode: result.exitCode, stderr: String(result.stderr ?? '') };
      } finally {
        if (!refill && !freshOnly) refill = setTimeout(start, REFILL_MS).unref();
      }
    },
  };
}

/**
 * Network namespaces and veth links for the lab, and running commands inside them.
 *
 * Every command is an argument vector for execa, never a shell string: namespace and
 * interface names come from callers and must not be able to run anything.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { execa, type Options as ExecaOptions, type ResultPromise } from 'execa';

export const NETNS_DIR = '/var/run/netns';

/** Linux limits interface names to 15 characters; namespace names share the rule here. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export function assertName(name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`invalid namespace or interface name: ${JSON.stringify(name)}`);
  return name;
}

export interface ExecInOptions {
  /**
   * Enter only the network namespace (nsenter --net) instead of `ip netns exec`.
   * Needed for dockerd: `ip netns exec` remounts /sys, and dockerd then fails with
   * "Devices cgroup isn't mounted".
   */
  netOnly?: boolean;
  input?: string;
  timeoutMs?: number;
  /** Throw on a non-zero exit (default true). */
  reject?: boolean;
  env?: Record<string, string>;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The argument vector that runs `cmd args` inside namespace `ns`. */
export function wrapIn(ns: string, cmd: string, args: readonly string[], netOnly = false): [string, string[]] {
  assertName(ns);
  if (netOnly) return ['nsenter', [`--net=${NETNS_DIR}/${ns}`, '--', cmd, ...args]];
  return ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

export async function execIn(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: ExecInOptions = {},
): Promise<ExecResult> {
  const [file, argv] = wrapIn(ns, cmd, args, opts.netOnly);
  return run(file, argv, opts);
}

/** Runs a command and returns its output; throws with stderr when it fails, unless reject is false. */
export async function run(file: string, args: readonly string[], opts: ExecInOptions = {}): Promise<ExecResult> {
  const execaOpts: ExecaOptions = {
    reject: false,
    stripFinalNewline: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  };
  const r = await execa(file, args, execaOpts);
  const result = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  if (opts.reject !== false && (r.failed || result.exitCode !== 0)) {
    const why = r.timedOut ? 'timed out' : `exit ${result.exitCode}`;
    throw new Error(`${file} ${args.map(brief).join(' ')}: ${why}: ${result.stderr.trim() || r.shortMessage}`);
  }
  return result;
}

/** Inline scripts make unreadable error messages: show their start only. */
function brief(arg: string): string {
  const line = arg.split('\n')[0] ?? '';
  return line.length > 40 || line !== arg ? `${line.slice(0, 40)}…` : arg;
}

/** Starts a long-running process inside a namespace; the caller owns and must end it. */
export function spawnIn(ns: string, cmd: string, args: readonly string[], netOnly = false): ResultPromise {
  const [file, argv] = wrapIn(ns, cmd, args, netOnly);
  return execa(file, argv, { reject: false, stdin: 'ignore', buffer: false, cleanup: true });
}

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

export async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', assertName(name)]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a namespace after killing whatever still runs in it; no error if it is gone. */
export function deleteNetnsSync(name: string): void {
  assertName(name);
  if (!listNetns().includes(name)) return;
  killPidsInNetnsSync(name);
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

/** Pids whose network namespace is `name` (dockerd, containerd, shims, servers, probes). */
export function pidsInNetnsSync(name: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', assertName(name)], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

function killPidsInNetnsSync(name: string): void {
  for (const pid of pidsInNetnsSync(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface VethSpec {
  /** Namespace and name of the first end. */
  ns: string;
  name: string;
  /** Namespace and name of the peer end. */
  peerNs: string;
  peerName: string;
}

/** Creates the pair directly inside its namespaces, so the root namespace never sees it. */
export async function addVeth(v: VethSpec): Promise<void> {
  await run('ip', [
    '-n', assertName(v.ns), 'link', 'add', assertName(v.name), 'type', 'veth',
    'peer', 'name', assertName(v.peerName), 'netns', assertName(v.peerNs),
  ]);
}

/**
 * Runs several `ip` commands in one process (ip -batch): bringing up a namespace's
 * links, addresses and routes takes one spawn instead of ten.
 */
export async function ipBatch(ns: string, commands: readonly (readonly string[])[]): Promise<void> {
  for (const c of commands) {
    for (const word of c) {
      if (/[\s"'\\#]/.test(word)) throw new Error(`ip batch word needs no quoting: ${JSON.stringify(word)}`);
    }
  }
  const input = commands.map((c) => c.join(' ')).join('\n') + '\n';
  await run('ip', ['-n', assertName(ns), '-batch', '-'], { input });
}

/** Sets sysctls inside a namespace (/proc/sys/net is per network namespace). */
export async function setSysctls(ns: string, values: Record<string, string | number>): Promise<void> {
  const args = ['-q', ...Object.entries(values).map(([k, v]) => `${k}=${v}`)];
  await execIn(ns, 'sysctl', ['-w', ...args], { netOnly: true });
}

/**
 * Synchronous clean-up primitives: find and kill a lab's processes, unmount what dockerd
 * mounted, remove its cgroups and directories.
 *
 * They are synchronous on purpose: they also run from a process 'exit' handler, where
 * nothing asynchronous gets to run any more.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, ...]. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Alive means running or stopped; a zombie has exited and only waits to be reaped. */
export function isAlive(pid: number): boolean {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z' && f[0] !== 'X';
}

/** Kernel start time of a process, to tell it from a later process that reuses its pid. */
export function startTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

export function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((p) => p !== process.pid);
}

/** Processes with `dir` (or a path below it) in their command line: dockerd, containerd, shims. */
export function pidsMentioning(dir: string): number[] {
  const found: number[] = [];
  for (const pid of allPids()) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (args.some((a) => a === dir || a.includes(`${dir}/`))) found.push(pid);
  }
  return found;
}

export function killSync(pids: Iterable<number>, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

/** Waits until none of `pids` is alive; returns those still alive at the deadline. */
export function waitGoneSync(pids: readonly number[], timeoutMs: number): number[] {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(isAlive);
  while (left.length > 0 && Date.now() < deadline) {
    sleepSync(20);
    left = left.filter(isAlive);
  }
  return left;
}

/**
 * Unix socket paths a process listens on below `dir`, found through its open socket
 * inodes. containerd shims put theirs in /run/containerd/s/, outside the lab's run dir;
 * a killed shim leaves the file there, so teardown removes it by name afterwards.
 */
export function socketPathsOf(pid: number, dir: string): string[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1]) inodes.add(m[1]);
      } catch {
        // fd closed meanwhile
      }
    }
    return readFileSync(`/proc/${pid}/net/unix`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => inodes.has(f[6] ?? '') && isUnder(f[7] ?? '', dir))
      .map((f) => f[7] as string);
  } catch {
    return [];
  }
}

interface Mount {
  mountPoint: string;
  fsType: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function mounts(): Mount[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean);
  return lines.map((line) => {
    const [pre = '', post = ''] = line.split(' - ');
    return { mountPoint: unescapeMount(pre.split(' ')[4] ?? ''), fsType: post.split(' ')[0] ?? '' };
  });
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Lazily unmounts everything mounted at or below `dir`, deepest first (overlays, netns, shm). */
export function unmountUnderSync(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const points = mounts()
      .map((m) => m.mountPoint)
      .filter((p) => isUnder(p, dir))
      .sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
    if (points.length === 0) return;
    for (const p of points) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
  }
}

/** Mount points of every cgroup hierarchy (v1 controllers, v2 unified). */
export function cgroupRoots(): string[] {
  return mounts()
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => m.mountPoint);
}

/** Directories of cgroup `name` (a child of each hierarchy's root), deepest first. */
function cgroupTree(name: string): string[] {
  const dirs: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
    dirs.push(d);
  };
  for (const root of cgroupRoots()) {
    const top = join(root, name);
    if (exists(top)) walk(top);
  }
  return dirs;
}

export function pidsInCgroup(name: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupTree(name)) {
    try {
      for (const s of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        const n = Number.parseInt(s, 10);
        if (n > 0) pids.add(n);
      }
    } catch {
      // not readable: a hierarchy without cgroup.procs
    }
  }
  return [...pids];
}

/** Removes cgroup `name` in every hierarchy; a cgroup only goes once its processes have. */
export function removeCgroupSync(name: string): void {
  for (let round = 0; round < 10; round++) {
    const dirs = cgroupTree(name);
    if (dirs.length === 0) return;
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // busy for a moment after its last process exits
      }
    }
    sleepSync(round === 0 ? 0 : 20);
  }
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes a lab directory, but never while something is still mounted below it:
 * a recursive delete would walk into the mount and delete what it shows.
 */
export function removeDirSync(dir: string): void {
  const left = mounts().filter((m) => isUnder(m.mountPoint, dir));
  if (left.length > 0) {
    throw new Error(`not removing ${dir}: still mounted: ${left.map((m) => m.mountPoint).join(', ')}`);
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

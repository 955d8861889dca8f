/**
 * A real dockerd (Debian's docker.io, 20.10) inside the lab's host network namespace,
 * with its own data-root, exec-root, socket, pidfile and cgroup parent, so several
 * labs and the machine's own Docker (if any) never share state.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { assertName, NETNS_DIR } from './netns.js';
import {
  isAlive,
  killSync,
  pidsInCgroup,
  pidsMentioning,
  removeCgroupSync,
  removeDirSync,
  socketPathsOf,
  unmountUnderSync,
  waitGoneSync,
} from './teardown.js';

export interface DockerdConfig {
  /** Network namespace dockerd runs in (the lab's "Docker host"). */
  netns: string;
  /** Directory for socket, pidfile, log, data-root and exec-root; keep it short (socket path limit). */
  runDir: string;
  /** Name of the cgroup that holds every container of this dockerd, e.g. dwlab-<id>. */
  cgroup: string;
  /** Extra dockerd flags, after the lab's own (a repeated flag overrides: the last one wins). */
  args?: readonly string[];
}

export interface StopOptions {
  /** Signal to send first (default SIGTERM: a clean daemon shutdown). */
  signal?: NodeJS.Signals;
  /** How long to wait before SIGKILL (default 20 s: dockerd first stops containers). */
  timeoutMs?: number;
  /** SIGKILL the containers' processes first, so shutdown does not wait for them. */
  killContainers?: boolean;
}

const DOCKERD = existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : 'dockerd';
/** A plain system PATH: dockerd looks up containerd, runc and iptables through it. */
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin';
const START_TIMEOUT_MS = 30_000;
/** containerd 1.6 puts shim sockets here whatever dockerd's exec-root. */
const SHIM_SOCKET_DIR = '/run/containerd/s';

export class Dockerd {
  readonly socketPath: string;
  readonly host: string;
  readonly pidFile: string;
  readonly logPath: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  private readonly configFile: string;
  private extraArgs: readonly string[];
  private child: { pid: number; exited: boolean } | undefined;

  constructor(private readonly cfg: DockerdConfig) {
    assertName(cfg.netns);
    this.socketPath = join(cfg.runDir, 'd.sock');
    this.host = `unix://${this.socketPath}`;
    this.pidFile = join(cfg.runDir, 'dockerd.pid');
    this.logPath = join(cfg.runDir, 'dockerd.log');
    this.dataRoot = join(cfg.runDir, 'data');
    this.execRoot = join(cfg.runDir, 'exec');
    this.configFile = join(cfg.runDir, 'daemon.json');
    this.extraArgs = cfg.args ?? [];
    if (Buffer.byteLength(this.socketPath) > 100) throw new Error(`socket path too long: ${this.socketPath}`);
  }

  /** The running dockerd's pid, if any. */
  get pid(): number | undefined {
    const c = this.child;
    // `exited` guards against a reused pid once Node has reaped dockerd.
    return c && !c.exited && isAlive(c.pid) ? c.pid : undefined;
  }

  get args(): readonly string[] {
    return this.extraArgs;
  }

  private argv(): string[] {
    return [
      `--net=${NETNS_DIR}/${this.cfg.netns}`, '--', DOCKERD,
      // An empty config file: never pick up the machine's /etc/docker/daemon.json.
      '--config-file', this.configFile,
      '--iptables=false', '--ip6tables=false', '--userland-proxy=false',
      '--data-root', this.dataRoot, '--exec-root', this.execRoot,
      '-H', this.host, '--pidfile', this.pidFile,
      // One cgroup per lab, so teardown finds every container process, even after a crash.
      '--exec-opt', 'native.cgroupdriver=cgroupfs', '--cgroup-parent', `/${this.cfg.cgroup}`,
      ...this.extraArgs,
    ];
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) throw new Error('dockerd is already running');
    mkdirSync(this.cfg.runDir, { recursive: true });
    if (!existsSync(this.configFile)) writeFileSync(this.configFile, '{}\n');
    this.removeStalePidfiles();
    const sub = this.spawn();
    if (sub.pid === undefined) throw new Error('could not spawn nsenter/dockerd');
    const child = { pid: sub.pid, exited: false };
    sub.on('exit', () => {
      child.exited = true;
    });
    sub.on('error', () => {
      child.exited = true;
    });
    // Exit handlers, not this handle, end dockerd if the test process goes away.
    sub.unref();
    this.child = child;
    await this.waitReady();
  }

  /**
   * node's spawn rather than execa: dockerd must write its log straight to a file
   * descriptor (never through a pipe to this process, which may exit first), and
   * execa's types refuse a non-literal descriptor number.
   */
  private spawn(): ChildProcess {
    const log = openSync(this.logPath, 'a');
    try {
      // nsenter without --fork execs dockerd, so the child's pid is dockerd's pid.
      return spawn('nsenter', this.argv(), {
        detached: true,
        stdio: ['ignore', log, log],
        env: {
          PATH: SYSTEM_PATH,
          // With --iptables=true dockerd would register with a firewalld on the system
          // bus, which lives in the root namespace: keep it from finding one.
          DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/dwlab-no-dbus',
        },
      });
    } finally {
      closeSync(log); // the child has its own copy
    }
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.pid === undefined) throw new Error(`dockerd exited while starting:\n${this.logTail()}`);
      if (await ping(this.socketPath)) return;
      await delay(20);
    }
    throw new Error(`dockerd did not answer /_ping within ${START_TIMEOUT_MS} ms:\n${this.logTail()}`);
  }

  /** Last lines of dockerd's log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Stops dockerd and keeps its state (images, containers), as a service stop would:
   * start() brings the same daemon back. Without --live-restore dockerd stops the
   * containers first; with it they keep running.
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    const signal = opts.signal ?? 'SIGTERM';
    if (opts.killContainers) killSync(pidsInCgroup(this.cfg.cgroup));
    killSync([pid], 'SIGCONT'); // a paused daemon cannot act on SIGTERM
    killSync([pid], signal);
    // dockerd 20.10 lingers a second after a complete shutdown (a gRPC redial of the
    // containerd it has just stopped). containerd goes last, so once it and the shims
    // are gone the daemon has nothing left to do and SIGKILL loses nothing.
    const finished = () => !isAlive(pid) || (signal === 'SIGTERM' && this.helpersGone(pid));
    await waitUntil(finished, opts.timeoutMs ?? 20_000);
    if (isAlive(pid)) {
      killSync([pid], 'SIGKILL');
      await waitUntil(() => !isAlive(pid), 5_000);
    }
    this.child = undefined;
  }

  /**
   * dockerd and its containerd each refuse to start a second copy while their pidfile
   * names a live process, and count a zombie as live. After a killed dockerd this
   * machine's init may take seconds to reap the old containerd, so drop pidfiles that
   * name a dead or zombie process.
   */
  private removeStalePidfiles(): void {
    for (const file of [this.pidFile, join(this.execRoot, 'containerd', 'containerd.pid')]) {
      try {
        const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
        if (!(pid > 0 && isAlive(pid))) rmSync(file, { force: true });
      } catch {
        // no pidfile
      }
    }
  }

  /** True when no containerd or shim of this daemon runs any more. */
  private helpersGone(pid: number): boolean {
    return pidsMentioning(this.cfg.runDir).every((p) => p === pid);
  }

  /** Simulates a crash: SIGKILL, no clean shutdown (containerd and containers stay). */
  async kill(): Promise<void> {
    await this.stop({ signal: 'SIGKILL', timeoutMs: 5_000 });
  }

  /** Stops and starts again; `args` replaces the extra flags for the new daemon. */
  async restart(opts: { args?: readonly string[] } & StopOptions = {}): Promise<void> {
    await this.stop(opts);
    if (opts.args) this.extraArgs = opts.args;
    await this.start();
  }

  /** SIGSTOP: the API stops answering while its sockets stay open, as a hung daemon. */
  pause(): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error('dockerd is not running');
    killSync([pid], 'SIGSTOP');
  }

  resume(): void {
    const pid = this.pid;
    if (pid !== undefined) killSync([pid], 'SIGCONT');
  }

  /** Stops dockerd and removes every trace: processes, mounts, cgroups, directories. */
  async destroy(): Promise<void> {
    // Containers are disposable here: killing them first spares the stop timeouts.
    await this.stop({ killContainers: true, timeoutMs: 5_000 });
    destroyDockerdSync(this.cfg.runDir, this.cfg.cgroup);
  }
}

/**
 * Removes what a dockerd with this run dir and cgroup left: its processes (dockerd,
 * containerd, shims, containers), the mounts under data-root and exec-root, the cgroups
 * and the run dir. Used after a clean stop, from exit handlers and for stale labs.
 */
export function destroyDockerdSync(runDir: string, cgroup: string): void {
  const pids = new Set([...pidsInCgroup(cgroup), ...pidsMentioning(runDir), ...pidFromFile(runDir)]);
  const shimSockets = [...pids].flatMap((p) => socketPathsOf(p, SHIM_SOCKET_DIR));
  killSync(pids, 'SIGKILL');
  waitGoneSync([...pids], 5_000);
  for (const s of shimSockets) rmSync(s, { force: true });
  // Containers started between the two scans (a restart policy racing the kill).
  const late = pidsInCgroup(cgroup);
  killSync(late, 'SIGKILL');
  waitGoneSync(late, 2_000);
  unmountUnderSync(runDir);
  removeCgroupSync(cgroup);
  removeDirSync(runDir);
}

/** The pid in the pidfile, only if that process is a dockerd (pids get reused). */
function pidFromFile(runDir: string): number[] {
  try {
    const pid = Number.parseInt(readFileSync(join(runDir, 'dockerd.pid'), 'utf8'), 10);
    const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return name === 'dockerd' ? [pid] : [];
  } catch {
    return [];
  }
}

/** True when dockerd's API answers GET /_ping with OK. */
export function ping(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await delay(20);
  }
  return true;
}


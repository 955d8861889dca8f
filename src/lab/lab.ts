/**
 * The lab: a "Docker host" network namespace running a real dockerd with its own rules
 * off, and two client namespaces wired to it by veth links.
 *
 *   dwe-<id> "external"  eth0 198.51.100.2 (+ .3), 2001:db8:1::2
 *        |  veth
 *   dwh-<id> "host"      ext0 198.51.100.1, 2001:db8:1::1   dockerd, docker0, containers
 *                        int0 203.0.113.1,  2001:db8:2::1
 *        |  veth
 *   dwi-<id> "internal"  eth0 203.0.113.2, 2001:db8:2::2
 *
 * The host namespace has no uplink, so nothing a test sends can leave the machine, and
 * the machine's own (root) namespace is never touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachServer, serverArgs, type ClientServer } from './client-server.js';
import {
  httpPorts,
  httpRunArgs,
  plainRunArgs,
  udpEchoRunArgs,
  udpPorts,
  type PlainOptions,
  type ServiceOptions,
} from './containers.js';
import { destroyDockerdSync, Dockerd } from './dockerd.js';
import { imageTar, importImage } from './image.js';
import {
  addNetns,
  deleteNetnsSync,
  execIn,
  ipBatch,
  listNetns,
  run,
  setSysctls,
  spawnIn,
  type ExecInOptions,
  type ExecResult,
} from './netns.js';
import {
  httpProbe,
  tcpProbe,
  udpProbe,
  type ProbeOptions,
  type Runner,
  type TcpOutcome,
  type UdpProbeOptions,
} from './probes.js';
import { cgroupRoots, isAlive, startTime } from './teardown.js';

/** Parent of every lab's run dir; short, because dockerd's unix socket lives below it. */
export const LAB_RUN_ROOT = '/run/dwlab';
const DOCKER_CLIENT = '/usr/bin/docker';

/** Addresses of the lab's links (documentation ranges: nothing here is routable outside). */
export const LAB_ADDR = {
  external: {
    hostIf: 'ext0', host: '198.51.100.1', host6: '2001:db8:1::1',
    client: '198.51.100.2', client2: '198.51.100.3', client6: '2001:db8:1::2', prefix: 24, prefix6: 64,
  },
  internal: {
    hostIf: 'int0', host: '203.0.113.1', host6: '2001:db8:2::1',
    client: '203.0.113.2', client6: '2001:db8:2::2', prefix: 24, prefix6: 64,
  },
  /** Name of the link inside each client namespace. */
  clientIf: 'eth0',
} as const;

/** Where a probe runs: a lab namespace by role, any namespace by name, or a container's network namespace. */
export type ProbeFrom = 'external' | 'internal' | 'host' | (string & {}) | { container: string };

export interface LabOptions {
  /** Extra dockerd flags, e.g. ['--iptables=true'] or ['--ipv6', '--fixed-cidr-v6', 'fd00:1::/64']. */
  dockerdArgs?: readonly string[];
  /**
   * Turn on IPv4/IPv6 forwarding in the host namespace before dockerd starts (default
   * true). false leaves it off, as on a typical host, so a dockerd with --iptables=true
   * turns it on itself and sets the FORWARD policy to DROP.
   */
  ipForward?: boolean;
  /** Import the test image (default true). */
  image?: boolean;
  /** Remove leftovers of crashed runs first (default true). */
  sweep?: boolean;
}

export interface Lab {
  readonly id: string;
  readonly hostNs: string;
  readonly externalNs: string;
  readonly internalNs: string;
  /** `unix:///run/dwlab/<id>/d.sock`, for `docker -H` and DOCKER_HOST. */
  readonly dockerHost: string;
  /** The socket path alone, for dockerode ({ socketPath }). */
  readonly socketPath: string;
  readonly runDir: string;
  /** The daemon itself, for restart(), stop(), kill(), pause() and resume() in fault tests. */
  readonly dockerd: Dockerd;
  /** Runs /usr/bin/docker -H <lab>; returns stdout, throws with stderr on failure. */
  docker(args: readonly string[]): Promise<string>;
  /** Busybox httpd on port 80 (and `ports`); the body of / is the container's name. */
  runHttp(name: string, opts?: ServiceOptions): Promise<string>;
  /** Python UDP echo on 5353 (or `ports`), answering "NAME:PAYLOAD". */
  runUdpEcho(name: string, opts?: ServiceOptions): Promise<string>;
  /** Any command in the lab image, with the host's /usr mounted read-only unless mountUsr is false. */
  runPlain(name: string, opts: PlainOptions): Promise<string>;
  /** A container's address on `network` (its only or first network when omitted). */
  containerIp(name: string, network?: string, family?: 'ipv4' | 'ipv6'): Promise<string>;
  /** GET url from `from`: the body, or null when nothing answered with 2xx in time. */
  http(from: ProbeFrom, url: string, opts?: ProbeOptions): Promise<string | null>;
  /** One datagram to host:port from `from`: the reply, or null. */
  udp(from: ProbeFrom, host: string, port: number, opts?: UdpProbeOptions): Promise<string | null>;
  /** TCP connect outcome, to tell REJECT ('reset') from DROP ('timeout'). */
  tcpReset(from: ProbeFrom, host: string, port: number, opts?: ProbeOptions): Promise<TcpOutcome>;
  /** Runs a command in the host namespace (nsenter --net), e.g. iptables-save or curl. */
  inHost(cmd: string, args: readonly string[], opts?: ExecInOptions): Promise<ExecResult>;
  /** Runs a command wherever a probe could run. */
  exec(from: ProbeFrom, cmd: string, args: readonly string[], opts?: ExecInOptions): Promise<ExecResult>;
  /** An HTTP server in a client namespace that answers with, and records, each request's source address. */
  serveHttpInClient(ns: 'external' | 'internal' | (string & {}), port: number): Promise<ClientServer>;
  /** Removes everything the lab made; safe to call twice. */
  stop(): Promise<void>;
}

const names = (id: string) => ({
  host: `dwh-${id}`,
  external: `dwe-${id}`,
  internal: `dwi-${id}`,
  runDir: join(LAB_RUN_ROOT, id),
  cgroup: `dwlab-${id}`,
});

const ID_RE = /^[a-z0-9]{1,11}$/;

class LabImpl implements Lab {
  readonly hostNs: string;
  readonly externalNs: string;
  readonly internalNs: string;
  readonly dockerHost: string;
  readonly socketPath: string;
  readonly runDir: string;
  private readonly servers = new Set<ClientServer>();
  private stopping: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly dockerd: Dockerd,
  ) {
    const n = names(id);
    this.hostNs = n.host;
    this.externalNs = n.external;
    this.internalNs = n.internal;
    this.runDir = n.runDir;
    this.dockerHost = dockerd.host;
    this.socketPath = dockerd.socketPath;
  }

  docker = async (args: readonly string[]): Promise<string> => {
    // Its own client config dir: the machine's ~/.docker (contexts, plugins) stays out of it.
    const env = { DOCKER_CONFIG: join(this.runDir, 'cli') };
    const { stdout } = await run(DOCKER_CLIENT, ['-H', this.dockerHost, ...args], { env });
    return stdout.trimEnd();
  };

  async runHttp(name: string, opts: ServiceOptions = {}): Promise<string> {
    const id = await this.docker(httpRunArgs(name, opts));
    if (opts.wait !== false) {
      await this.waitFor(name, httpPorts(opts), async (r, port) =>
        (await httpProbe(r, `http://127.0.0.1:${port}/`)) === name);
    }
    return id;
  }

  async runUdpEcho(name: string, opts: ServiceOptions = {}): Promise<string> {
    const id = await this.docker(udpEchoRunArgs(name, opts));
    if (opts.wait !== false) {
      await this.waitFor(name, udpPorts(opts), async (r, port) =>
        (await udpProbe(r, '127.0.0.1', port, { timeoutMs: 300 })) === `${name}:ping`);
    }
    return id;
  }

  async runPlain(name: string, opts: PlainOptions): Promise<string> {
    return this.docker(plainRunArgs(name, opts));
  }

  /** Polls each port from inside the container's own network namespace, so no firewall rule matters. */
  private async waitFor(name: string, ports: number[], ok: (r: Runner, port: number) => Promise<boolean>) {
    const deadline = Date.now() + 15_000;
    for (const port of ports) {
      for (;;) {
        if (await ok(this.runner({ container: name }), port).catch(() => false)) break;
        if (Date.now() > deadline) throw new Error(`container ${name} does not answer on port ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async containerIp(name: string, network?: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<string> {
    const out = await this.docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', name]);
    const nets = JSON.parse(out) as Record<string, { IPAddress?: string; GlobalIPv6Address?: string }>;
    const ep = network ? nets[network] : Object.values(nets)[0];
    const ip = family === 'ipv4' ? ep?.IPAddress : ep?.GlobalIPv6Address;
    if (!ip) throw new Error(`container ${name} has no ${family} address${network ? ` on ${network}` : ''}`);
    return ip;
  }

  private async containerPid(name: string): Promise<number> {
    const pid = Number(await this.docker(['inspect', '-f', '{{.State.Pid}}', name]));
    if (!(pid > 0)) throw new Error(`container ${name} is not running`);
    return pid;
  }

  private nsName(from: Exclude<ProbeFrom, { container: string }>): string {
    if (from === 'external') return this.externalNs;
    if (from === 'internal') return this.internalNs;
    if (from === 'host') return this.hostNs;
    return from;
  }

  private runner(from: ProbeFrom): Runner {
    if (typeof from === 'object') {
      return async (cmd, args, opts) => {
        const pid = await this.containerPid(from.container);
        return run('nsenter', [`--net=/proc/${pid}/ns/net`, '--', cmd, ...args], opts);
      };
    }
    const ns = this.nsName(from);
    const netOnly = ns === this.hostNs;
    return (cmd, args, opts) => execIn(ns, cmd, args, { ...opts, netOnly });
  }

  exec(from: ProbeFrom, cmd: string, args: readonly string[], opts?: ExecInOptions): Promise<ExecResult> {
    return this.runner(from)(cmd, args, opts);
  }

  inHost(cmd: string, args: readonly string[], opts?: ExecInOptions): Promise<ExecResult> {
    return this.exec('host', cmd, args, opts);
  }

  http(from: ProbeFrom, url: string, opts?: ProbeOptions): Promise<string | null> {
    return httpProbe(this.runner(from), url, opts);
  }

  udp(from: ProbeFrom, host: string, port: number, opts?: UdpProbeOptions): Promise<string | null> {
    return udpProbe(this.runner(from), host, port, opts);
  }

  tcpReset(from: ProbeFrom, host: string, port: number, opts?: ProbeOptions): Promise<TcpOutcome> {
    return tcpProbe(this.runner(from), host, port, opts);
  }

  async serveHttpInClient(ns: 'external' | 'internal' | (string & {}), port: number): Promise<ClientServer> {
    const [cmd, args] = serverArgs(port);
    const proc = spawnIn(this.nsName(ns), cmd, args);
    try {
      const server = await attachServer(proc, port);
      this.servers.add(server);
      return server;
    } catch (e) {
      proc.kill('SIGKILL');
      throw e;
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await Promise.all([...this.servers].map((s) => s.stop()));
        await this.dockerd.destroy();
      } finally {
        destroyLabSync(this.id);
        liveLabs().delete(this.id);
      }
    })();
    return this.stopping;
  }
}

/** Removes every trace of lab `id`: processes, mounts, cgroups, run dir, namespaces. */
export function destroyLabSync(id: string): void {
  if (!ID_RE.test(id)) throw new Error(`invalid lab id ${JSON.stringify(id)}`);
  const n = names(id);
  const errors: string[] = [];
  try {
    destroyDockerdSync(n.runDir, n.cgroup);
  } catch (e) {
    errors.push((e as Error).message);
  }
  for (const ns of [n.external, n.internal, n.host]) deleteNetnsSync(ns);
  if (errors.length > 0) throw new Error(`lab ${id} clean-up: ${errors.join('; ')}`);
}

// Live labs of this process, shared across module instances (vitest re-imports modules
// per test file within one worker) so exit handlers are installed once.
const LIVE_KEY = Symbol.for('dockward.lab.live');

function liveLabs(): Set<string> {
  const g = globalThis as { [LIVE_KEY]?: Set<string> };
  if (!g[LIVE_KEY]) {
    g[LIVE_KEY] = new Set();
    installExitHandlers(g[LIVE_KEY]);
  }
  return g[LIVE_KEY];
}

function installExitHandlers(live: Set<string>): void {
  const cleanAll = (): void => {
    for (const id of [...live]) {
      try {
        destroyLabSync(id);
      } catch {
        // best effort: the next startLab sweeps what is left
      }
      live.delete(id);
    }
  };
  process.on('exit', cleanAll);
  // A test worker whose runner died (Ctrl-C on vitest) loses its IPC channel but may
  // live on as an orphan that never exits: its labs must not live on with it.
  if (process.send) process.once('disconnect', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanAll();
      // Nobody else handles it: die of the signal, as without our handler.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function ownerFile(id: string): string {
  return join(names(id).runDir, 'owner');
}

/** The owner file names the process that made the lab, with its start time against pid reuse. */
function ownerAlive(id: string): boolean {
  try {
    const [pid, start] = readFileSync(ownerFile(id), 'utf8').trim().split(' ');
    const p = Number(pid);
    return isAlive(p) && startTime(p) === start;
  } catch {
    return false;
  }
}

function leftoverIds(): Set<string> {
  const ids = new Set<string>();
  const add = (s: string | undefined) => {
    if (s && ID_RE.test(s)) ids.add(s);
  };
  try {
    for (const d of readdirSync(LAB_RUN_ROOT)) add(d);
  } catch {
    // no run root yet
  }
  for (const ns of listNetns()) add(/^dw[hei]-(.+)$/.exec(ns)?.[1]);
  for (const root of cgroupRoots()) {
    try {
      for (const d of readdirSync(root)) add(/^dwlab-(.+)$/.exec(d)?.[1]);
    } catch {
      // unreadable hierarchy
    }
  }
  return ids;
}

/**
 * Removes leftovers of labs whose process is gone (a crash, a SIGKILL): namespaces
 * dw[hei]-*, their dockerds and containers, mounts, cgroups and run dirs. Labs of
 * live processes, this one included, are left alone. Returns the ids removed.
 */
export function sweepStaleLabs(): string[] {
  const live = liveLabs();
  const swept: string[] = [];
  for (const id of leftoverIds()) {
    if (live.has(id) || ownerAlive(id)) continue;
    destroyLabSync(id);
    swept.push(id);
  }
  return swept;
}

async function buildTopology(id: string, ipForward: boolean): Promise<void> {
  const n = names(id);
  const { external: e, internal: i, clientIf } = LAB_ADDR;
  for (const ns of [n.host, n.external, n.internal]) await addNetns(ns);
  // No duplicate address detection on interfaces made later (docker0, br-*): otherwise
  // the bridge's IPv6 gateway address stays tentative for a second or two after the
  // first container starts, and IPv6 to and from containers fails meanwhile.
  const sysctls: Record<string, number> = { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 };
  if (ipForward) Object.assign(sysctls, { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
  await setSysctls(n.host, sysctls);
  // nodad: IPv6 addresses are usable at once instead of after duplicate detection.
  await ipBatch(n.host, [
    ['link', 'add', e.hostIf, 'type', 'veth', 'peer', 'name', clientIf, 'netns', n.external],
    ['link', 'add', i.hostIf, 'type', 'veth', 'peer', 'name', clientIf, 'netns', n.internal],
    ['addr', 'add', `${e.host}/${e.prefix}`, 'dev', e.hostIf],
    ['addr', 'add', `${e.host6}/${e.prefix6}`, 'dev', e.hostIf, 'nodad'],
    ['addr', 'add', `${i.host}/${i.prefix}`, 'dev', i.hostIf],
    ['addr', 'add', `${i.host6}/${i.prefix6}`, 'dev', i.hostIf, 'nodad'],
    ['link', 'set', e.hostIf, 'up'],
    ['link', 'set', i.hostIf, 'up'],
  ]);
  const client = (addrs: string[], v6: string, gw: string, gw6: string) => [
    ...addrs.map((a) => ['addr', 'add', a, 'dev', clientIf]),
    ['addr', 'add', v6, 'dev', clientIf, 'nodad'],
    ['link', 'set', clientIf, 'up'],
    ['route', 'add', 'default', 'via', gw],
    ['route', 'add', '::/0', 'via', gw6],
  ];
  await Promise.all([
    ipBatch(n.external, client(
      [`${e.client}/${e.prefix}`, `${e.client2}/${e.prefix}`], `${e.client6}/${e.prefix6}`, e.host, e.host6)),
    ipBatch(n.internal, client([`${i.client}/${i.prefix}`], `${i.client6}/${i.prefix6}`, i.host, i.host6)),
  ]);
}

function newId(): string {
  for (;;) {
    const id = randomBytes(3).toString('hex');
    if (!leftoverIds().has(id)) return id;
  }
}

/** Brings up a lab: namespaces and links, a dockerd in the host namespace, the test image. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  if (opts.sweep !== false) sweepStaleLabs();
  const id = newId();
  const n = names(id);
  // Owner first: a concurrent sweep must never take a lab that is being built for a stale one.
  mkdirSync(n.runDir, { recursive: true });
  writeFileSync(ownerFile(id), `${process.pid} ${startTime(process.pid)}\n`);
  liveLabs().add(id);
  if (opts.image !== false) imageTar().catch(() => undefined); // build the tar meanwhile
  try {
    await buildTopology(id, opts.ipForward !== false);
    const dockerd = new Dockerd({ netns: n.host, runDir: n.runDir, cgroup: n.cgroup, args: opts.dockerdArgs ?? [] });
    await dockerd.start();
    const lab = new LabImpl(id, dockerd);
    if (opts.image !== false) await importImage(lab.docker);
    return lab;
  } catch (e) {
    try {
      destroyLabSync(id);
    } finally {
      liveLabs().delete(id);
    }
    throw e;
  }
}

/**
 * doctor's I/O: everything the checks judge, read once, read-only. Nothing here changes
 * a rule, a sysctl or a module; a fact that cannot be read is recorded as such, so the
 * checks can say so instead of the command failing.
 */
import { access, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { detectBackend, type Backend } from '../dataplane/iptables.js';
import { readInventory, toNetwork } from '../inventory/docker.js';
import { compile, DEFAULT_OPTIONS } from '../compile/index.js';
import { systemIpset } from '../dataplane/ipset.js';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../policy/load.js';
import { formatIssues } from '../policy/issues.js';
import type { Family } from '../ruleset/types.js';
import {
  flagValue, nativeHookTables, processesNamed, SYSCTL,
  type BackendFacts, type ConfigFact, type DockerFact, type Facts, type FileFact, type PolicyFact, type ProcessFact, type SaveFact,
} from './checks.js';

export interface GatherOptions {
  readonly backend?: Backend;
  readonly policy?: string;
  readonly docker: Docker;
  /** How the operator named Docker's address, for messages. */
  readonly dockerHost: string;
}

const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';
/** Only these processes matter; reading every other command line would be wasted work. */
const WATCHED = new Set(['dockerd', 'docker-proxy']);

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message;
}

async function save(backend: Backend, family: Family): Promise<SaveFact> {
  const program = `${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${backend}-save`;
  const r = await execa(program, [], { reject: false, timeout: 30_000 });
  if (r.exitCode === 0) return { text: r.stdout };
  return { error: (r.stderr.trim().split('\n')[0] || r.shortMessage) ?? 'failed' };
}

async function backendFacts(backend: Backend): Promise<BackendFacts> {
  const version = await execa(`iptables-${backend}`, ['--version'], { reject: false, timeout: 10_000 });
  if (version.failed && (version as { code?: string }).code === 'ENOENT') {
    const none = { error: 'not installed' };
    return { installed: false, saves: { ipv4: none, ipv6: none } };
  }
  const [ipv4, ipv6] = await Promise.all([save(backend, 'ipv4'), save(backend, 'ipv6')]);
  return { installed: true, ...(version.exitCode === 0 ? { version: version.stdout.trim() } : {}), saves: { ipv4, ipv6 } };
}

async function sysctl(key: string): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function sysctls(): Promise<Record<string, string | undefined>> {
  const keys = Object.values(SYSCTL);
  const values = await Promise.all(keys.map(sysctl));
  return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
}

async function netnsOf(pid: number | 'self'): Promise<string | undefined> {
  return readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
}

async function processFact(pid: number): Promise<ProcessFact | undefined> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    if (!WATCHED.has((argv[0] ?? '').split('/').pop() ?? '')) return undefined;
    const netns = await netnsOf(pid);
    return { pid, argv, ...(netns ? { netns } : {}) };
  } catch {
    return undefined; // gone while we looked
  }
}

/** dockerd and docker-proxy, machine-wide; the checks keep those of dockward's own network namespace. */
async function processes(): Promise<ProcessFact[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const found = await Promise.all(pids.map(processFact));
  return found.filter((p): p is ProcessFact => p !== undefined);
}

/** The config file the local dockerd reads (its --config-file, relative to its cwd), else the default. */
function configPath(dockerd: ProcessFact | undefined): string {
  const named = dockerd && flagValue(dockerd.argv, 'config-file', true);
  if (!named) return DEFAULT_DAEMON_JSON;
  return isAbsolute(named) ? named : join(`/proc/${dockerd.pid}/cwd`, named);
}

async function daemonConfig(path: string): Promise<ConfigFact> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? { path, state: 'absent' } : { path, state: 'unreadable', error: errorText(e) };
  }
  try {
    const values: unknown = JSON.parse(text);
    if (typeof values !== 'object' || values === null || Array.isArray(values)) return { path, state: 'invalid', error: 'not a JSON object' };
    return { path, state: 'read', values: values as Record<string, unknown> };
  } catch (e) {
    return { path, state: 'invalid', error: (e as Error).message };
  }
}

async function dockerFact(docker: Docker, host: string): Promise<DockerFact> {
  try {
    const [version, networks] = await Promise.all([docker.version(), docker.listNetworks({ filters: { driver: ['bridge'] } })]);
    return { host, reachable: true, version: version.Version, networks: networks.map(toNetwork) };
  } catch (e) {
    return { host, reachable: false, error: (e as Error).message };
  }
}

async function fileFact(path: string): Promise<FileFact> {
  const s = await stat(path);
  return { path, mode: s.mode, uid: s.uid };
}

function ancestors(dir: string): string[] {
  const out = [dir];
  while (dirname(out[out.length - 1] ?? '/') !== out[out.length - 1]) out.push(dirname(out[out.length - 1] ?? '/'));
  return out;
}

async function policyFact(explicitPath: string | undefined): Promise<PolicyFact> {
  const path = explicitPath ?? DEFAULT_POLICY_PATH;
  const explicit = explicitPath !== undefined;
  let file: FileFact;
  try {
    file = await fileFact(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? { path, explicit, state: 'absent' } : { path, explicit, state: 'unreadable', error: errorText(e) };
  }
  // Both the path as given and the symlink target: whoever controls either directory controls the file.
  const real = await realpath(path);
  const dirPaths = [...new Set([...ancestors(dirname(path)), ...ancestors(dirname(real))])];
  const dirs = await Promise.all(dirPaths.map(fileFact));
  const loaded = await loadPolicy(path);
  const problems = loaded.ok ? [] : formatIssues(loaded.file, loaded.issues).split('\n');
  return { path, explicit, state: 'present', file, dirs, problems };
}

/** Where dockward's own conntrack calls would find the program: the PATH it runs with. */
async function conntrackPath(): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'conntrack');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

export async function gatherFacts(o: GatherOptions): Promise<Facts> {
  const backend = o.backend ?? (await detectBackend());
  const [nft, legacy, sys, ownNetns, procs, docker, policy, conntrack] = await Promise.all([
    backendFacts('nft'), backendFacts('legacy'), sysctls(), netnsOf('self'), processes(),
    dockerFact(o.docker, o.dockerHost), policyFact(o.policy), conntrackPath(),
  ]);
  const dockerd = processesNamed({ processes: procs, ownNetns }, 'dockerd')[0];
  const [compileNotes, nativeTables] = await Promise.all([notesOf(o, docker, policy), nftTables()]);
  return {
    backend,
    backendChosenBy: o.backend ? 'flag' : 'detection',
    backends: { nft, legacy },
    sysctls: sys,
    ...(ownNetns ? { ownNetns } : {}),
    processes: procs,
    daemonConfig: await daemonConfig(configPath(dockerd)),
    docker,
    policy,
    ...(conntrack ? { conntrack } : {}),
    ...(compileNotes ? { compileNotes } : {}),
    ...(nativeTables ? { nativeTables } : {}),
  };
}

/** The policy compiled against Docker's containers and the host's ipsets: what it leaves out. */
async function notesOf(o: GatherOptions, docker: DockerFact, policy: PolicyFact): Promise<string[] | undefined> {
  if (!docker.reachable || (policy.state === 'present' && policy.problems.length > 0)) return undefined;
  try {
    const loaded = await loadPolicy(o.policy);
    if (!loaded.ok) return undefined;
    const inventory = await readInventory(o.docker);
    return [...compile(inventory, loaded.policy, { ...DEFAULT_OPTIONS, ipsets: await systemIpset().list() }).notes];
  } catch {
    return undefined;
  }
}

async function nftTables(): Promise<string[] | undefined> {
  const r = await execa('nft', ['list', 'ruleset'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? nativeHookTables(r.stdout) : undefined;
}

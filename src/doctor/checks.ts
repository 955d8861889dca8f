/**
 * doctor's checks: pure functions from gathered facts to a verdict with its fix. Each one
 * looks for one thing that would make dockward's rules wrong or useless on this host.
 * No I/O here (facts.ts gathers, report.ts renders), so every verdict is unit-tested from
 * hand-made facts.
 */
import { compile } from '../compile/index.js';
import type { Backend } from '../dataplane/iptables.js';
import type { Network } from '../inventory/types.js';
import { BUILTIN_DEFAULT } from '../policy/default.js';
import { parseSave, type LiveChain, type LiveState } from '../ruleset/parse.js';
import { CHAIN_PREFIX, type Family, type TableName } from '../ruleset/types.js';

// ---- the facts the checks judge (gathered by facts.ts) ----

/** One `iptables-save` (or `ip6tables-save`) output, or why there is none. */
export interface SaveFact {
  readonly text?: string;
  readonly error?: string;
}

export interface BackendFacts {
  /** False when the backend's programs are not on this machine. */
  readonly installed: boolean;
  /** `iptables-<backend> --version`, e.g. "iptables v1.8.9 (nf_tables)". */
  readonly version?: string;
  readonly saves: Readonly<Record<Family, SaveFact>>;
}

export interface ProcessFact {
  readonly pid: number;
  readonly argv: readonly string[];
  /** `readlink /proc/PID/ns/net`, e.g. "net:[4026531840]"; undefined when unreadable. */
  readonly netns?: string;
}

/** The Docker daemon's config file: the one its --config-file names, else /etc/docker/daemon.json. */
export type ConfigFact =
  | { readonly path: string; readonly state: 'absent' }
  | { readonly path: string; readonly state: 'unreadable' | 'invalid'; readonly error: string }
  | { readonly path: string; readonly state: 'read'; readonly values: Readonly<Record<string, unknown>> };

export type DockerFact =
  | { readonly host: string; readonly reachable: true; readonly version: string; readonly networks: readonly Network[] }
  | { readonly host: string; readonly reachable: false; readonly error: string };

export interface FileFact {
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
}

export type PolicyFact =
  | { readonly path: string; readonly explicit: boolean; readonly state: 'absent' }
  | { readonly path: string; readonly explicit: boolean; readonly state: 'unreadable'; readonly error: string }
  | {
    readonly path: string;
    readonly explicit: boolean;
    readonly state: 'present';
    readonly file: FileFact;
    /** Every directory above the file (and above its symlink target), up to /. */
    readonly dirs: readonly FileFact[];
    /** `FILE: PATH: message` lines from the policy loader; empty when the policy is valid. */
    readonly problems: readonly string[];
  };

export const SYSCTL = {
  ipForward: 'net.ipv4.ip_forward',
  ip6Forward: 'net.ipv6.conf.all.forwarding',
  bridgeNf: 'net.bridge.bridge-nf-call-iptables',
  bridgeNf6: 'net.bridge.bridge-nf-call-ip6tables',
} as const;

export interface Facts {
  readonly backend: Backend;
  readonly backendChosenBy: 'flag' | 'detection';
  readonly backends: Readonly<Record<Backend, BackendFacts>>;
  /** Values of SYSCTL keys in dockward's own network namespace; undefined when the file is missing. */
  readonly sysctls: Readonly<Record<string, string | undefined>>;
  /** dockward's own network namespace, to tell this host's processes from other namespaces' (labs, other hosts' dockerds). */
  readonly ownNetns?: string;
  /** dockerd and docker-proxy processes, machine-wide. */
  readonly processes: readonly ProcessFact[];
  readonly daemonConfig: ConfigFact;
  readonly docker: DockerFact;
  readonly policy: PolicyFact;
  /** Path of the conntrack program, undefined when not found. */
  readonly conntrack?: string;
  /**
   * What compiling the policy against Docker's containers and the host's ipsets leaves out
   * or ignores (a missing ipset, a label that does not parse or came from the image);
   * undefined when it could not be compiled (no Docker, a bad policy).
   */
  readonly compileNotes?: readonly string[];
  /** Native nftables tables (not iptables-nft's) with a chain on the input or forward hook: "inet firewalld". */
  readonly nativeTables?: readonly string[];
}

// ---- verdicts ----

export type Severity = 'fail' | 'warn' | 'info';

export interface CheckResult {
  readonly id: string;
  /** True when nothing needs doing. */
  readonly ok: boolean;
  /** fail: the rules are wrong or useless (exit 1); warn: worth knowing, rules still right; info: fine. */
  readonly severity: Severity;
  readonly summary: string;
  /** The specifics (rules, chains, files, processes) behind the summary. */
  readonly details?: readonly string[];
  /** What to do; absent when ok. */
  readonly fix?: string;
}

const fine = (id: string, summary: string, details?: readonly string[]): CheckResult =>
  ({ id, ok: true, severity: 'info', summary, ...(details?.length ? { details } : {}) });

const problem = (id: string, severity: 'fail' | 'warn', summary: string, fix: string, details?: readonly string[]): CheckResult =>
  ({ id, ok: false, severity, summary, ...(details?.length ? { details } : {}), fix });

const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];

export function otherBackend(b: Backend): Backend {
  return b === 'nft' ? 'legacy' : 'nft';
}

function binaryName(b: Backend, family: Family = 'ipv4'): string {
  return `${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${b}`;
}

// ---- dockerd's settings, from its command line and config file ----

/** Go's strconv.ParseBool, which dockerd's flags and config use. */
function goBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  return undefined;
}

/** The last `--name[=value]` / `--name value` on a command line (the last one wins, as in dockerd). */
export function flagValue(argv: readonly string[], name: string, takesValue: boolean): string | undefined {
  let found: string | undefined;
  argv.forEach((arg, i) => {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(arg);
    if (m?.[1] !== name) return;
    found = m[2] ?? (takesValue ? argv[i + 1] : 'true');
  });
  return found;
}

function basename(path: string | undefined): string {
  return (path ?? '').split('/').pop() ?? '';
}

/** Processes of this network namespace running `program`: other namespaces are other hosts as far as rules go. */
export function processesNamed(f: Pick<Facts, 'processes' | 'ownNetns'>, program: string): ProcessFact[] {
  return f.processes.filter((p) => basename(p.argv[0]) === program && f.ownNetns !== undefined && p.netns === f.ownNetns);
}

export interface Setting {
  /** Undefined when nothing says and Docker's default depends on its version. */
  readonly value: boolean | undefined;
  /** Where the value comes from, for the operator. */
  readonly from: string;
  /** False when dockerd is not visible here and its config file says nothing. */
  readonly sure: boolean;
}

/** A boolean dockerd setting: its command line, else its config file, else Docker's default. */
export function dockerdSetting(f: Facts, name: string, fallback: boolean | undefined): Setting {
  const dockerd = processesNamed(f, 'dockerd')[0];
  const flag = dockerd && flagValue(dockerd.argv, name, false);
  if (flag !== undefined) return { value: goBool(flag), from: `dockerd's command line (--${name}=${flag})`, sure: true };
  const c = f.daemonConfig;
  if (c.state === 'read' && typeof c.values[name] === 'boolean') {
    return { value: c.values[name] as boolean, from: `${c.path} ("${name}": ${String(c.values[name])})`, sure: true };
  }
  const unset = c.state === 'read' ? `${c.path} does not set "${name}"` : `${c.path} is ${c.state}`;
  const sure = dockerd !== undefined && c.state !== 'unreadable' && c.state !== 'invalid';
  return { value: fallback, from: `Docker's default, as ${unset}${dockerd ? '' : ' and dockerd is not visible from this network namespace'}`, sure };
}

// ---- the live rules ----

function parsed(save: SaveFact): LiveState | undefined {
  return save.text === undefined ? undefined : parseSave(save.text);
}

function chainsOf(state: LiveState): { table: TableName; chain: LiveChain }[] {
  return [...state].flatMap(([table, chains]) => [...chains.values()].map((chain) => ({ table, chain })));
}

/** Docker's own chains; DOCKER-USER alone is the user's (and dockward's parity hook), not Docker writing rules. */
export function isDockerChain(name: string): boolean {
  return /^DOCKER($|-)/.test(name) && name !== 'DOCKER-USER';
}

function chainsWhere(b: BackendFacts, pick: (name: string) => boolean): string[] {
  return FAMILIES.flatMap((family) => {
    const state = parsed(b.saves[family]);
    return state ? chainsOf(state).filter((c) => pick(c.chain.name)).map((c) => `${family} ${c.table}/${c.chain.name}`) : [];
  });
}

function unreadable(b: BackendFacts, name: Backend): string[] {
  return FAMILIES.filter((fam) => b.saves[fam].error !== undefined)
    .map((fam) => `${binaryName(name, fam)}-save: ${b.saves[fam].error ?? ''}`);
}

const rulesFix = (f: Facts) => `set "iptables": false and "ip6tables": false in ${f.daemonConfig.path} (see daemon.json.example), `
  + 'remove any --iptables/--ip6tables flag from dockerd\'s unit, restart Docker, then run `dockward apply`';

/** 1. Docker writing its own rules: its chains in the live rules, or dockerd configured to. */
export function dockerRules(f: Facts): CheckResult {
  const id = 'docker-rules';
  const found = chainsWhere(f.backends[f.backend], isDockerChain);
  const v4 = dockerdSetting(f, 'iptables', true);
  const v6 = dockerdSetting(f, 'ip6tables', undefined);
  if (found.length > 0 && v4.value === false) {
    // dockerd says it is off: the chains are leftovers of an earlier run (or of another dockerd sharing this namespace).
    return problem(id, 'fail', `Docker's chains are in the live ${f.backend} rules (${found.length}) although dockerd runs with iptables off (${v4.from}): leftovers of an earlier run, or another dockerd writes them`,
      'delete the leftover chains (iptables -t TABLE -F CHAIN, then -X CHAIN, for each one listed) and make sure no other dockerd runs with iptables on', found);
  }
  if (found.length > 0) {
    return problem(id, 'fail', `Docker writes its own rules: its chains are in the live ${f.backend} rules (${found.length}), and they decide before or beside dockward's`, rulesFix(f), [...found, `iptables setting: ${v4.from}`]);
  }
  if (v4.value === true && v4.sure) return problem(id, 'fail', `dockerd runs with iptables on, from ${v4.from}: it writes its rules at the next network or container change`, rulesFix(f));
  if (v6.value === true) return problem(id, 'fail', `dockerd runs with ip6tables on, from ${v6.from}: it writes IPv6 rules of its own`, rulesFix(f));
  if (f.backends[f.backend].saves.ipv4.text === undefined) {
    return problem(id, 'warn', `cannot read the live ${f.backend} rules to look for Docker's chains`, 'run doctor as root, with the iptables programs installed', unreadable(f.backends[f.backend], f.backend));
  }
  if (v4.value !== false) {
    return problem(id, 'warn', `no Docker chains in the live rules, but iptables may be on: ${v4.from}`, rulesFix(f));
  }
  return fine(id, `no Docker chains in the live ${f.backend} rules; iptables off in ${v4.from}`);
}

/** `-host-ip 0.0.0.0 -host-port 8080 -proto tcp` → "0.0.0.0:8080/tcp". */
export function proxyListens(argv: readonly string[]): string {
  const ip = flagValue(argv, 'host-ip', true) ?? '?';
  const port = flagValue(argv, 'host-port', true) ?? '?';
  const proto = flagValue(argv, 'proto', true) ?? 'tcp';
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${proto}`;
}

const proxyFix = (f: Facts) => `set "userland-proxy": false in ${f.daemonConfig.path} (see daemon.json.example), `
  + 'remove any --userland-proxy flag from dockerd\'s unit, restart Docker, then run `dockward apply`';

/** 2. docker-proxy: it answers on published ports itself and connects to containers from the host's own address. */
export function dockerProxy(f: Facts): CheckResult {
  const id = 'docker-proxy';
  const proxies = processesNamed(f, 'docker-proxy');
  const setting = dockerdSetting(f, 'userland-proxy', true);
  if (proxies.length > 0) {
    const listens = [...new Set(proxies.map((p) => proxyListens(p.argv)))];
    return problem(id, 'fail', `docker-proxy listens on ${listens.length} published port(s): connections that reach it (from the host, or whenever DNAT is missing) get to containers from the host's own address, outside the policy`,
      proxyFix(f), proxies.map((p) => `pid ${p.pid}: ${proxyListens(p.argv)}`));
  }
  if (setting.value === true && setting.sure) {
    return problem(id, 'fail', `userland-proxy is on, from ${setting.from}: docker-proxy starts with the next published port`, proxyFix(f));
  }
  if (setting.value === true) {
    return problem(id, 'warn', `no docker-proxy runs in this network namespace, but userland-proxy may be on: ${setting.from}`, proxyFix(f));
  }
  return fine(id, `no docker-proxy in this network namespace; userland-proxy off in ${setting.from}`);
}

/** The built-in chains dockward hooks, per family, straight from the compiler so this never drifts from what apply does. */
export function expectedHooks(): { family: Family; table: TableName; builtin: string; chain: string }[] {
  const { rulesets } = compile({ networks: [], containers: [] }, BUILTIN_DEFAULT);
  return rulesets.flatMap((r) => (Object.entries(r.tables) as [TableName, (typeof r.tables)[TableName]][])
    .flatMap(([table, t]) => t.hooks.map((h) => ({
      family: r.family, table, builtin: h.builtin,
      chain: h.rule.target.kind === 'jump' ? h.rule.target.chain : '',
    }))));
}

/** Rules and non-ACCEPT policies in the chains dockward hooks: they see (and may drop) every packet dockward handles. */
function verdictsIn(state: LiveState, family: Family): string[] {
  const out: string[] = [];
  const hooked = new Map(expectedHooks().filter((e) => e.family === family).map((h) => [`${h.table}/${h.builtin}`, h]));
  for (const h of hooked.values()) {
    const chain = state.get(h.table)?.get(h.builtin);
    if (!chain) continue;
    if (chain.rules.length > 0) out.push(`${family} ${h.table}/${h.builtin}: ${chain.rules.length} rule(s)`);
    if (chain.policy && chain.policy !== 'ACCEPT') out.push(`${family} ${h.table}/${h.builtin}: policy ${chain.policy}`);
  }
  return out;
}

function ruleCount(state: LiveState): number {
  return chainsOf(state).reduce((n, c) => n + c.chain.rules.length, 0);
}

/** 3. The other backend: both backends' hooks see every packet, so rules there can drop what dockward accepts. */
export function otherBackendRules(f: Facts): CheckResult {
  const id = 'other-backend';
  const other = otherBackend(f.backend);
  const b = f.backends[other];
  const fix = `keep one backend: remove the ${other} rules (${binaryName(other)} -F, -X per table, or reboot), `
    + `point the alternatives at the backend you use (update-alternatives --set iptables /usr/sbin/iptables-${f.backend}) `
    + `or run dockward with --backend ${other}, and restart whatever wrote them on the wrong one`;
  if (!b.installed) return fine(id, `${binaryName(other)} is not installed: nothing can hide there`);
  const owned = chainsWhere(b, (n) => n.startsWith(CHAIN_PREFIX) || isDockerChain(n));
  const states = FAMILIES.map((fam) => [fam, parsed(b.saves[fam])] as const);
  const verdicts = states.flatMap(([fam, s]) => (s ? verdictsIn(s, fam) : []));
  const total = states.reduce((n, [, s]) => n + (s ? ruleCount(s) : 0), 0);
  const chosen = `${f.backend} is in use (${f.backendChosenBy === 'flag' ? '--backend' : 'detected'})`;
  if (owned.length > 0) {
    return problem(id, 'fail', `the ${other} backend holds DOCKWARD or Docker chains while ${chosen}: two rule sets judge every packet`, fix, owned);
  }
  if (verdicts.length > 0) {
    return problem(id, 'fail', `the ${other} backend has rules or a DROP policy where dockward hooks while ${chosen}: a DROP there overrides dockward's accepts`, fix, verdicts);
  }
  const cannotRead = unreadable(b, other);
  if (total > 0 || cannotRead.length > 0) {
    return problem(id, 'warn', total > 0
      ? `the ${other} backend holds ${total} rule(s) outside the chains dockward uses while ${chosen}: harmless to container traffic, but confusing`
      : `cannot read the ${other} backend's rules`, fix, cannotRead);
  }
  return fine(id, `the ${other} backend is empty; ${chosen}`);
}

function ipv6Networks(f: Facts): Network[] {
  return f.docker.reachable ? f.docker.networks.filter((n) => n.subnets.some((s) => s.family === 'ipv6')) : [];
}

/** 4. ip_forward: without it nothing is routed between the bridges and the host's links. */
export function ipForward(f: Facts): CheckResult {
  const id = 'ip-forward';
  const v4 = f.sysctls[SYSCTL.ipForward];
  const fix = 'sysctl -w net.ipv4.ip_forward=1 and keep it in /etc/sysctl.d/ (Docker sets it itself only with its rules on)';
  if (v4 !== '1') {
    return problem(id, 'fail', `${SYSCTL.ipForward} is ${v4 ?? 'missing'}: containers cannot reach out and published ports are not forwarded`, fix);
  }
  const v6 = f.sysctls[SYSCTL.ip6Forward];
  const six = ipv6Networks(f);
  if (six.length > 0 && v6 !== '1') {
    return problem(id, 'fail', `${SYSCTL.ip6Forward} is ${v6 ?? 'missing'} while network(s) ${six.map((n) => n.name).join(', ')} have IPv6: their IPv6 traffic is not forwarded`,
      'sysctl -w net.ipv6.conf.all.forwarding=1 and keep it in /etc/sysctl.d/');
  }
  return fine(id, `${SYSCTL.ipForward} = 1`);
}

export function iccOff(n: Network): boolean {
  return n.options['com.docker.network.bridge.enable_icc'] === 'false';
}

const BRIDGE_NF_FIX = 'modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1, '
  + 'and keep both in /etc/modules-load.d/ and /etc/sysctl.d/';

/**
 * 5. bridge netfilter: traffic between two containers of one bridge is switched, not
 * routed; only with bridge-nf-call-iptables does it pass through filter FORWARD, where
 * dockward's ICC-off DROP and the un-DNAT of hairpin replies happen.
 */
export function bridgeNetfilter(f: Facts): CheckResult {
  const id = 'bridge-netfilter';
  const v4 = f.sysctls[SYSCTL.bridgeNf];
  const v6 = f.sysctls[SYSCTL.bridgeNf6];
  const isolated = f.docker.reachable ? f.docker.networks.filter(iccOff) : undefined;
  const names = (ns: readonly Network[]) => ns.map((n) => `${n.name} (${n.bridge})`).join(', ');
  if (v4 !== '1' && isolated?.length) {
    return problem(id, 'fail', `${SYSCTL.bridgeNf} is ${v4 ?? 'missing'}: ICC off is NOT enforced on ${names(isolated)}; their containers reach each other freely, and containers of one bridge get no answer through a published port`, BRIDGE_NF_FIX);
  }
  const isolated6 = (isolated ?? []).filter((n) => n.subnets.some((s) => s.family === 'ipv6'));
  if (v6 !== '1' && isolated6.length > 0) {
    return problem(id, 'fail', `${SYSCTL.bridgeNf6} is ${v6 ?? 'missing'}: ICC off is NOT enforced for IPv6 on ${names(isolated6)}`, BRIDGE_NF_FIX);
  }
  if (v4 !== '1') {
    const unknown = isolated === undefined ? ' (Docker unreachable: cannot tell whether a network has ICC off)' : '';
    return problem(id, 'warn', `${SYSCTL.bridgeNf} is ${v4 ?? 'missing'}: a network with ICC off would not be enforced, and containers of one bridge get no answer through a published port${unknown}`, BRIDGE_NF_FIX);
  }
  const count = isolated === undefined ? 'Docker unreachable' : `${isolated.length} network(s) with ICC off`;
  return fine(id, `${SYSCTL.bridgeNf} = 1: ICC off is enforceable (${count})`);
}

const HOOK_COMMENT = /DW:[0-9a-f]{16} hook\b/;

function isHook(text: string, chain: string): boolean {
  return HOOK_COMMENT.test(text) && new RegExp(`(^|\\s)-j ${chain}(\\s|$)`).test(text);
}

/** dockward's own hooks may precede each other (DOCKER-USER's jump comes first in FORWARD); nothing else may. */
function allowedAbove(table: TableName, builtin: string, text: string): boolean {
  if (HOOK_COMMENT.test(text)) return true;
  return table === 'filter' && builtin === 'FORWARD' && text.trim() === '-j DOCKER-USER';
}

interface HookFindings {
  missing: string[];
  foreign: string[];
  forwardPolicy?: string;
}

function inspectHooks(f: Facts): HookFindings | string {
  const found: HookFindings = { missing: [], foreign: [] };
  for (const h of expectedHooks()) {
    const save = f.backends[f.backend].saves[h.family];
    const state = parsed(save);
    if (!state) return `cannot read the live ${f.backend} rules: ${save.error ?? 'no output'}`;
    const chain = state.get(h.table)?.get(h.builtin);
    // Both families are read: a DROP policy in either is the one worth saying.
    if (h.table === 'filter' && h.builtin === 'FORWARD' && chain?.policy && found.forwardPolicy !== 'DROP') found.forwardPolicy = chain.policy;
    const at = chain?.rules.findIndex((r) => isHook(r.text, h.chain)) ?? -1;
    const where = `${h.family} ${h.table}/${h.builtin}`;
    if (!chain || at < 0) {
      // FORWARD holds two hooks (DOCKER-USER, then dockward's): a chain is missing once.
      if (!found.missing.includes(where)) found.missing.push(where);
      continue;
    }
    chain.rules.slice(0, at).forEach((r, i) => {
      const line = `${where} rule ${i + 1}, above dockward's hook: ${r.text}`;
      // A built-in chain with two hooks (FORWARD) sees a foreign rule above both: report it once.
      if (!allowedAbove(h.table, h.builtin, r.text) && !found.foreign.includes(line)) found.foreign.push(line);
    });
  }
  return found;
}

/** 6. dockward's hooks must be first in their built-in chains, or a foreign verdict decides before dockward does. */
export function hookOrder(f: Facts): CheckResult {
  const id = 'hooks';
  const found = inspectHooks(f);
  if (typeof found === 'string') return problem(id, 'fail', found, 'run doctor as root, with the iptables programs installed');
  const total = new Set(expectedHooks().map((h) => `${h.family} ${h.table}/${h.builtin}`)).size;
  if (found.missing.length === total) {
    return problem(id, 'fail', `dockward's rules are not applied (${f.backend}): no hook in any of the ${total} built-in chains it uses`,
      'run `dockward apply`, or start dockward.service', found.missing);
  }
  if (found.missing.length > 0 || found.foreign.length > 0) {
    const what = [
      ...(found.foreign.length ? [`${found.foreign.length} foreign rule(s) above dockward's hooks decide first`] : []),
      ...(found.missing.length ? [`hooks missing in ${found.missing.length} chain(s) (a table was flushed)`] : []),
    ];
    return problem(id, 'fail', what.join('; '),
      'run `dockward apply` (it puts its hooks back on top; the running daemon does so within seconds), then make the tool that inserted the rules append them instead (-A, not -I)',
      [...found.foreign, ...found.missing.map((m) => `${m}: no dockward hook`)]);
  }
  const policy = found.forwardPolicy === 'DROP'
    ? 'filter FORWARD policy DROP (fine: dockward accepts what it allows before the policy applies)'
    : `filter FORWARD policy ${found.forwardPolicy ?? 'ACCEPT'} (fine)`;
  return fine(id, `dockward's hooks are first in all ${total} built-in chains it uses; ${policy}`);
}

const unsafeMode = (mode: number) => (mode & 0o022) !== 0;
const sticky = (mode: number) => (mode & 0o1000) !== 0;
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** Why a policy file or one of its directories lets a non-root user change the firewall, if it does. */
function writableByOthers(file: FileFact, isDir: boolean): string | undefined {
  if (file.uid !== 0) return `${file.path} is owned by uid ${file.uid}, not root`;
  // A sticky directory (like /tmp) lets others add files but not replace or rename root's.
  if (unsafeMode(file.mode) && !(isDir && sticky(file.mode))) return `${file.path} is writable by ${(file.mode & 0o002) ? 'others' : 'its group'} (mode ${octal(file.mode)})`;
  return undefined;
}

/** 7. Whoever can write the policy file decides who reaches the containers. */
export function policyFile(f: Facts): CheckResult {
  const id = 'policy-file';
  const p = f.policy;
  if (p.state === 'absent') {
    return p.explicit
      ? problem(id, 'fail', `${p.path} does not exist`, 'create it (see the README\'s policy reference) or drop --policy to use the built-in default')
      : fine(id, `no file at ${p.path}: the built-in default is in force (every published port open to every source, as with Docker)`);
  }
  if (p.state === 'unreadable') return problem(id, 'fail', `cannot read ${p.path}: ${p.error}`, 'run doctor as root and check the path');
  const reasons = [writableByOthers(p.file, false), ...p.dirs.map((d) => writableByOthers(d, true))].filter((r): r is string => r !== undefined);
  if (reasons.length > 0) {
    return problem(id, 'fail', `${p.path} can be changed by non-root users, and whoever writes it owns the host's firewall`,
      `chown root:root ${p.path} && chmod 0644 ${p.path} (or 0600), and make every directory above it root-owned and not group- or world-writable`, reasons);
  }
  return fine(id, `${p.path}: owned by root, mode ${octal(p.file.mode)}, in root-only directories`);
}

/** A policy dockward would refuse: `run` keeps the last good rules, or exits 2 at start. */
export function policyValid(f: Facts): CheckResult {
  const id = 'policy-valid';
  const p = f.policy;
  if (p.state !== 'present') return fine(id, p.state === 'absent' && !p.explicit ? 'built-in default policy' : 'no policy file to validate');
  if (p.problems.length > 0) {
    return problem(id, 'fail', `${p.path} is not a valid policy (${p.problems.length} problem(s)): dockward refuses it`, `fix each problem; \`dockward check --policy ${p.path}\` lists them`, p.problems);
  }
  return fine(id, `${p.path} is a valid policy`);
}

/** Docker reachable: without it the rules cannot follow the containers. */
export function dockerReachable(f: Facts): CheckResult {
  const id = 'docker';
  if (!f.docker.reachable) {
    return problem(id, 'fail', `Docker does not answer at ${f.docker.host}: ${f.docker.error}`, 'start Docker, or point --docker-host / DOCKER_HOST at its socket');
  }
  return fine(id, `Docker ${f.docker.version} answers at ${f.docker.host}`);
}

/** iptables-nft 1.8.0–1.8.2 mishandle restore --noflush and rule listing: dockward's atomic updates rely on both. */
export function iptablesVersion(f: Facts): CheckResult {
  const id = 'iptables';
  const b = f.backends[f.backend];
  const name = binaryName(f.backend);
  if (!b.installed || !b.version) return problem(id, 'fail', `${name} ${b.installed ? 'does not run' : 'not found'}: dockward cannot load rules with the ${f.backend} backend`, `install iptables (1.8.3 or later), or choose the other backend with --backend ${otherBackend(f.backend)}`);
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(b.version);
  const [major, minor, patch] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  if (f.backend === 'nft' && major === 1 && minor === 8 && patch <= 2) {
    return problem(id, 'fail', `${b.version}: iptables-nft before 1.8.3 has known bugs in restore --noflush and in listing rules`, 'upgrade iptables to 1.8.3 or later, or use --backend legacy');
  }
  return fine(id, `${b.version.trim()}, backend ${f.backend} (${f.backendChosenBy === 'flag' ? '--backend' : 'detected'})`);
}

/** conntrack(8) lets dockward end open flows the policy stops allowing. */
export function conntrackPresent(f: Facts): CheckResult {
  const id = 'conntrack';
  if (!f.conntrack) {
    return problem(id, 'warn', 'conntrack not found: connections the policy stops allowing stay open until they go idle', 'install the conntrack package (apt-get install conntrack)');
  }
  return fine(id, `${f.conntrack} present (open flows can be revoked)`);
}

/** Rules the policy has that are not in force: a set that does not exist yet, a label ignored. */
export function policyLeftOut(f: Facts): CheckResult {
  const id = 'policy-left-out';
  if (f.compileNotes === undefined) return fine(id, 'not checked (Docker or the policy not available)');
  if (f.compileNotes.length === 0) return fine(id, 'every rule of the policy is in force');
  return problem(id, 'warn', `${f.compileNotes.length} part(s) of the policy are not in force`,
    'create the missing ipsets (or start the tool that keeps them: they come in at the next reconcile), and fix or remove the labels named', f.compileNotes);
}

/** Native nftables tables judge packets beside iptables' and beyond iptables-restore's reach, exclusive mode included. */
export function nativeNftables(f: Facts): CheckResult {
  const id = 'nftables';
  if (!f.nativeTables?.length) return fine(id, 'no native nftables table hooks input or forward');
  return problem(id, 'warn', `native nftables tables hook input or forward; dockward's rules cannot override or remove them`,
    'make sure they accept what the policy allows (or remove them: `nft delete table FAMILY NAME`); exclusive mode does not reach them', [...f.nativeTables]);
}

/** In the order they print: the host's Docker and iptables first, then what would break the rules. */
export const CHECKS: readonly ((f: Facts) => CheckResult)[] = [
  dockerReachable, iptablesVersion, dockerRules, dockerProxy, otherBackendRules, hookOrder,
  ipForward, bridgeNetfilter, policyFile, policyValid, policyLeftOut, nativeNftables, conntrackPresent,
];

/** `nft list ruleset` → native tables with a base chain on the input or forward hook; iptables-nft's own tables are not native. */
export function nativeHookTables(text: string): string[] {
  const found = new Set<string>();
  let table: string | undefined;
  for (const line of text.split('\n')) {
    const t = /^table (\S+) (\S+) \{/.exec(line);
    if (t) table = IPTABLES_NFT_TABLES.has(`${t[1]} ${t[2]}`) ? undefined : `${t[1]} ${t[2]}`;
    if (table && /\bhook (input|forward)\b/.test(line)) found.add(table);
  }
  return [...found];
}

const IPTABLES_NFT_TABLES = new Set(['ip', 'ip6'].flatMap((family) => ['filter', 'nat', 'mangle', 'raw', 'security'].map((name) => `${family} ${name}`)));

export function runChecks(f: Facts): CheckResult[] {
  return CHECKS.map((check) => check(f));
}

export function healthy(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.ok || r.severity !== 'fail');
}

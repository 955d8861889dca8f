/**
 * Published ports: DNAT plus the access policy, enforced in three tables so that each
 * on its own keeps refused sources out (outside tools wipe one table at a time):
 *   mangle PREROUTING  before DNAT: deny → DROP, reject → mark (see networks.ts guard);
 *   nat                DNAT only for sources that are not denied;
 *   filter FORWARD     after DNAT, by the connection's original port: ACCEPT / DROP / REJECT.
 * Each published container has one chain per table (named from its id), so a container
 * change rewrites its own chains and one dispatch line.
 */
import type { Action, Policy } from '../policy/types.js';
import type { Chain, Family, Match, Rule, Target } from '../ruleset/types.js';
import { hostCidr } from '../ruleset/tokens.js';
import { accessLines, allowsAll, rulesFor, type AccessLine, type NetworkBridges } from './access.js';
import type { Binding, Publication } from './model.js';
import { HAIRPIN, PUBLISH, REJECT_MARK } from './names.js';
import { accept, drop, goTo, jump, localSrc, masquerade, port, ret, rule, sourceMatches, dst, src } from './rules.js';

export interface PublishedChains {
  readonly mangle: Chain[];
  readonly nat: Chain[];
  readonly filter: Chain[];
  readonly access: BindingAccess[];
}

/** Who may use one published binding, as data: what revocation of open flows is judged by. */
export interface BindingAccess {
  /** protocol/host address/host port: the binding's identity across applies. */
  readonly key: string;
  readonly family: Family;
  readonly protocol: Binding['protocol'];
  readonly hostIp?: string;
  readonly hostPort: number;
  readonly target: string;
  /** `set`: the source is an ipset's members, which conntrack cannot be asked about. */
  readonly lines: readonly { readonly cidr?: string; readonly iface?: string; readonly set?: string; readonly action: Action }[];
}

/** One binding and the policy lines that decide it, with its matches built once for all its rules. */
interface Decided {
  readonly binding: Binding;
  readonly lines: readonly AccessLine[];
  /** dialled(): before DNAT. */
  readonly key: readonly Match[];
}

function note(line: AccessLine): string {
  if (!line.rule) return 'default';
  if (line.rule.place) return line.rule.place;
  return line.rule.name ? `rules[${line.rule.index}]:${line.rule.name}` : `rules[${line.rule.index}]`;
}

/** Before DNAT: what the client dialled. */
export function dialled(b: Binding, family: Family): Match[] {
  return [...(b.hostIp ? [dst(hostCidr(family, b.hostIp))] : []), ...port(b.protocol, b.hostPort)];
}

/** After DNAT: the container's address and port, tied to the host port the client dialled. */
export function delivered(p: Publication, b: Binding, family: Family): Match[] {
  const orig: Match = b.hostIp
    ? { kind: 'ctorig', states: ['DNAT'], dst: b.hostIp, dstPort: b.hostPort }
    : { kind: 'ctorig', states: ['DNAT'], dstPort: b.hostPort };
  return [dst(hostCidr(family, p.address)), { kind: 'protocol', protocol: b.protocol }, orig,
    { kind: 'dport', protocol: b.protocol, from: b.containerPort, to: b.containerPort }];
}

function dnatTarget(p: Publication, b: Binding, family: Family): Target {
  return { kind: 'DNAT', to: family === 'ipv4' ? `${p.address}:${b.containerPort}` : `[${p.address}]:${b.containerPort}` };
}

function rejectTarget(b: Binding, family: Family): Target {
  if (b.protocol === 'tcp') return { kind: 'REJECT', with: 'tcp-reset' };
  return { kind: 'REJECT', with: family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable' };
}

const MANGLE_VERDICT: Record<Action, Target> = { allow: ret, deny: drop, reject: goTo(REJECT_MARK) };

/**
 * IPv6 link-local sources are never translated (nat, as Docker 28+), so they would reach
 * dockerd's idle socket on the host port and complete a handshake there: refuse them.
 */
function linkLocalDrop(d: Decided, family: Family): Rule[] {
  return family === 'ipv6' ? [rule([...d.key, src('fe80::/10')], drop, 'link-local')] : [];
}

/** A key's matches and a source's, sharing the key's array when the source adds none (any). */
function withSource(key: readonly Match[], source: AccessLine['source']): readonly Match[] {
  const from = sourceMatches(source);
  return from.length === 0 ? key : [...key, ...from];
}

function mangleRules(d: Decided, family: Family): Rule[] {
  if (allowsAll(d.lines)) return linkLocalDrop(d, family);
  const rules = d.lines.map((l) => rule(withSource(d.key, l.source), MANGLE_VERDICT[l.action], note(l)));
  return [...linkLocalDrop(d, family), ...dropTrailing(rules, 'RETURN')];
}

function natRules(p: Publication, d: Decided, family: Family): Rule[] {
  const key = d.key;
  const to = dnatTarget(p, d.binding, family);
  if (!d.lines.some((l) => l.action === 'deny')) return [rule(key, to)];
  // The host itself is not governed by the policy: its connections are always translated.
  const rules = [rule([...key, localSrc], to, 'host')];
  for (const l of d.lines) rules.push(rule(withSource(key, l.source), l.action === 'deny' ? ret : to, note(l)));
  return dropTrailing(rules, 'RETURN');
}

/**
 * A routed network (Docker 28's gateway_mode routed) has no DNAT: clients reach the
 * container's address and port directly, and the policy judges them there.
 */
function routedKey(p: Publication, b: Binding, family: Family): Match[] {
  return [dst(hostCidr(family, p.address)), ...port(b.protocol, b.containerPort)];
}

function filterRules(p: Publication, d: Decided, family: Family): Rule[] {
  const key = p.bridge.gatewayMode === 'routed' ? routedKey(p, d.binding, family) : delivered(p, d.binding, family);
  if (allowsAll(d.lines)) return [rule(key, accept)];
  const verdict: Record<Action, Target> = { allow: accept, deny: drop, reject: rejectTarget(d.binding, family) };
  return d.lines.map((l) => rule(withSource(key, l.source), verdict[l.action], note(l)));
}

function bindingAccess(p: Publication, d: Decided, family: Family): BindingAccess {
  const b = d.binding;
  const access: { -readonly [K in keyof BindingAccess]: BindingAccess[K] } = {
    key: `${family}/${b.protocol}/${b.hostIp ?? '*'}/${b.hostPort}`, family, protocol: b.protocol,
    hostPort: b.hostPort, target: `${p.address}:${b.containerPort}`, lines: d.lines.map(accessOf),
  };
  if (b.hostIp) access.hostIp = b.hostIp;
  return access;
}

function accessOf(l: AccessLine): BindingAccess['lines'][number] {
  const { cidr, iface, set } = l.source;
  if (cidr === undefined && iface === undefined && set === undefined) return { action: l.action };
  const line: { cidr?: string; iface?: string; set?: string; action: Action } = { action: l.action };
  if (cidr) line.cidr = cidr;
  if (iface) line.iface = iface;
  if (set) line.set = set;
  return line;
}

/** A RETURN at the end of a chain changes nothing: leave it out. */
function dropTrailing(rules: Rule[], kind: string): Rule[] {
  while (rules.length > 0 && rules[rules.length - 1]?.target.kind === kind) rules.pop();
  return rules;
}

/**
 * Everything one published container contributes, in every table. Every container's parts
 * have the same shape (no mangle is `undefined`, not a missing key): the compile reads a
 * thousand of them per event, and one shape keeps those reads fast.
 */
export interface ContainerParts {
  readonly mangle: Chain | undefined;
  readonly nat: Chain;
  readonly filter: Chain;
  readonly dispatch: { readonly mangle: Rule | undefined; readonly nat: Rule; readonly filter: Rule; readonly hairpin: Rule };
  readonly access: readonly BindingAccess[];
}

export function containerParts(p: Publication, policy: Policy, family: Family, networks: NetworkBridges): ContainerParts {
  const rules = rulesFor(policy, p.container);
  const decided = p.bindings.map((binding): Decided =>
    ({ binding, lines: accessLines(rules, policy.defaults.published, binding, family, networks), key: dialled(binding, family) }));
  // Routed: no translation, so nothing to judge before DNAT and nothing to translate.
  const routed = p.bridge.gatewayMode === 'routed';
  const mangle = routed ? [] : decided.flatMap((d) => mangleRules(d, family));
  const address = hostCidr(family, p.address);
  const jumpHere = jump(p.chain);
  const marked = mangle.length > 0;
  return {
    mangle: marked ? { name: p.chain, rules: mangle } : undefined,
    nat: { name: p.chain, rules: routed ? [] : decided.flatMap((d) => natRules(p, d, family)) },
    filter: { name: p.chain, rules: decided.flatMap((d) => filterRules(p, d, family)) },
    dispatch: {
      mangle: marked ? rule([], jumpHere) : undefined, nat: rule([], jumpHere), filter: rule([dst(address)], jumpHere),
      hairpin: rule([src(address), dst(address)], masquerade),
    },
    access: decided.map((d) => bindingAccess(p, d, family)),
  };
}

/**
 * The published containers' chains and the dispatch chains that lead to them. `parts`
 * computes one container's share; the caller may memoise it (compile/cache.ts), so that an
 * event about one container compiles that container only.
 */
export function publishedChains(pubs: readonly Publication[], parts: (p: Publication) => ContainerParts): PublishedChains {
  const out: PublishedChains = { mangle: [], nat: [], filter: [], access: [] };
  const dispatch = { mangle: [] as Rule[], nat: [] as Rule[], filter: [] as Rule[], hairpin: [] as Rule[] };
  for (const p of pubs) {
    const c = parts(p);
    if (c.mangle && c.dispatch.mangle) {
      out.mangle.push(c.mangle);
      dispatch.mangle.push(c.dispatch.mangle);
    }
    out.nat.push(c.nat);
    out.filter.push(c.filter);
    for (const a of c.access) out.access.push(a);
    dispatch.nat.push(c.dispatch.nat);
    dispatch.filter.push(c.dispatch.filter);
    dispatch.hairpin.push(c.dispatch.hairpin);
  }
  // Dispatch chains hold one line per container and no two lines match the same packet:
  // sets, updated line by line (ruleset/plan.ts). What falls through is refused in FORWARD.
  out.mangle.push({ name: PUBLISH, rules: dispatch.mangle, unordered: true, staleMayWait: true });
  out.nat.push({ name: PUBLISH, rules: dispatch.nat, unordered: true, staleMayWait: true },
    { name: HAIRPIN, rules: dispatch.hairpin, unordered: true, staleMayWait: true });
  out.filter.push({ name: PUBLISH, rules: dispatch.filter, unordered: true, staleMayWait: true });
  return out;
}

/**
 * `connections:` — direct container-to-container traffic (one container dialling another
 * container's address). Per destination container, one chain holds the policy's lines in
 * file order (first match wins); what no line decides falls back to the network's ICC
 * setting (same network) or to isolation (across networks).
 *
 * Each table alone keeps refused paths closed:
 *   filter FORWARD  the verdicts (ACCEPT / DROP / REJECT), before ICC and isolation;
 *   mangle FORWARD  the same chains, rejections as DROP (see mirror.ts);
 *   raw PREROUTING  across networks, the exact allowed paths are exempt from the subnet
 *                   drop (and explicit refusals dropped first, for first-match order);
 *                   everything else keeps being dropped there. Within one network raw
 *                   cannot tell a reply from a new connection, so it stays out of it.
 * A source is an address on a bridge: every line binds the address to its inbound bridge,
 * so a container on another network cannot borrow an allowed source address.
 *
 * An allowed line does not accept itself: it jumps to its source container's own chain,
 * which accepts (names.ts sourceChain). When that container stops, emptying its chain ends
 * all its paths at once — the lines naming it in other containers' chains then lead
 * nowhere and wait for the cleanup, so a stop touches only the stopped container's chains.
 */
import type { Container } from '../inventory/types.js';
import { matchesAny } from '../policy/selector.js';
import type { ConnectionRule, PortRange, Policy } from '../policy/types.js';
import type { Chain, Family, Rule } from '../ruleset/types.js';
import { hostCidr } from '../ruleset/tokens.js';
import type { Attachment } from './model.js';
import { mirrorChain } from './mirror.js';
import { CONNECT, connectionChain, isSourceJump, sourceChain } from './names.js';
import { accept, dst, inIf, jump, portRange, rule, src, verdict } from './rules.js';
import { uncached, type PerContainer } from './cache.js';

export interface ConnectionChains {
  /** CONNECT and one chain per destination container, for filter (mangle mirrors them). */
  readonly filter: readonly Chain[];
  /** The cross-network part, for raw; empty when no path crosses networks. */
  readonly raw: readonly Chain[];
  /** Bridges whose traffic must pass CONNECT before ICC and isolation. */
  readonly bridges: ReadonlySet<string>;
}

function note(r: ConnectionRule): string {
  if (r.index < 0) return r.name ?? 'implicit'; // not from the file: a legacy link (links.ts)
  return r.name ? `connections[${r.index}]:${r.name}` : `connections[${r.index}]`;
}

type Sources = (r: ConnectionRule) => readonly Attachment[];

/** Lines of one destination, and the source containers whose chains they jump to. */
interface Lines {
  readonly rules: Rule[];
  readonly sources: Set<Container>;
}

/**
 * The lines for traffic to `to`, in policy order (`rules`: those whose `to` selects it). With `onto` (raw), only sources on
 * another bridge than that attachment's, and bound to its address.
 */
function linesTo(to: Container, rules: readonly ConnectionRule[], sources: Sources, family: Family, out: Lines, memo: PerContainer, onto?: Attachment): void {
  for (const r of rules) {
    for (const from of sources(r)) {
      if (from.container.id === to.id) continue; // a container reaches itself over loopback, not the bridge
      if (onto && from.bridge.id === onto.bridge.id) continue;
      if (r.action === 'allow') out.sources.add(from.container);
      out.rules.push(...(onto ? crossingLines(r, from, family, onto, memo) : sharedLines(r, from, family, memo)));
    }
  }
}

/** A source's lines of one rule, to one destination address (raw) or to any (filter, mangle). */
function sourceLines(r: ConnectionRule, from: Attachment, family: Family, onto?: Attachment): Rule[] {
  const toAddress = onto ? [dst(hostCidr(family, onto.address))] : [];
  return (r.ports ?? [undefined]).map((range) => {
    const matches = [src(hostCidr(family, from.address)), ...toAddress, inIf(from.bridge.iface), ...portRange(range)];
    const target = r.action === 'allow' ? jump(sourceChain(from.container.id)) : verdict(r.action, range?.protocol, family);
    return rule(matches, target, note(r));
  });
}

/**
 * Filter's lines name no destination: one source's lines of one rule are the same objects
 * in every destination's chain and in every compile while the source is unchanged, so a
 * destination chain rebuilt for one source that comes or goes renders only that source's line.
 */
function sharedLines(r: ConnectionRule, from: Attachment, family: Family, memo: PerContainer): readonly Rule[] {
  const byRule = memo(from, `connections/lines/${family}`, () => new Map<ConnectionRule, readonly Rule[]>());
  let lines = byRule.get(r);
  if (!lines) byRule.set(r, (lines = sourceLines(r, from, family)));
  return lines;
}

/** Raw's lines name the destination address too: kept per destination attachment, then per source. */
function crossingLines(r: ConnectionRule, from: Attachment, family: Family, onto: Attachment, memo: PerContainer): readonly Rule[] {
  const bySource = memo(onto, `connections/crossing/${family}`, () => new WeakMap<Attachment, Map<ConnectionRule, readonly Rule[]>>());
  let byRule = bySource.get(from);
  if (!byRule) bySource.set(from, (byRule = new Map()));
  let lines = byRule.get(r);
  if (!lines) byRule.set(r, (lines = sourceLines(r, from, family, onto)));
  return lines;
}

/** Attachments of the containers each rule's `from` selects, computed once per rule. */
function sourcesByRule(rules: readonly ConnectionRule[], attachments: readonly Attachment[]): Sources {
  const cache = new Map<ConnectionRule, Attachment[]>();
  for (const r of rules) cache.set(r, attachments.filter((a) => matchesAny(r.from, a.container)));
  return (r) => cache.get(r) ?? [];
}

/** Attachments grouped by their container, in order. */
export function byContainer(attachments: readonly Attachment[]): Map<Container, Attachment[]> {
  const groups = new Map<Container, Attachment[]>();
  for (const a of attachments) {
    const group = groups.get(a.container);
    if (group) group.push(a);
    else groups.set(a.container, [a]);
  }
  return groups;
}

/**
 * What one destination's chains were built from, and the chains: kept per container
 * (CompileCache) and reused while the inputs are the very same objects — the sources'
 * attachments come from the model cache — so an event elsewhere rebuilds nothing here.
 */
interface Built {
  inputs?: readonly unknown[];
  filter?: Chain;
  raw?: Chain;
  /** The containers whose source chains the lines of filter and of raw jump to. */
  sources?: ReadonlySet<Container>;
  rawSources?: ReadonlySet<Container>;
  /** One line per address of the destination, into its chain (filter's CONNECT, and raw's when it has a chain there). */
  dispatch?: readonly Rule[];
}

function sameInputs(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The destination's own attachments, then the sources of each rule that may lead to it. */
function inputsOf(onto: readonly Attachment[], toRules: readonly ConnectionRule[], sources: Sources): unknown[] {
  const inputs: unknown[] = [...onto];
  for (const r of toRules) inputs.push(r, ...sources(r));
  return inputs;
}

/**
 * A destination's chain. When every line ends alike — each jumps into its source's chain,
 * or all refuse the same way — first match decides nothing the order could change: the chain
 * is a set, so a source container that starts adds its line instead of rewriting every
 * destination's chain.
 */
function destinationChain(name: string, lines: readonly Rule[]): Chain {
  const passes = lines.every((r) => isSourceJump(r.target));
  const first = JSON.stringify(lines[0]?.target);
  const same = passes || lines.every((r) => JSON.stringify(r.target) === first);
  return same ? { name, rules: lines, unordered: true } : { name, rules: lines };
}

/** A source container's chain: its allowed connections end here. */
function sourceChainOf(container: Container): Chain {
  return { name: sourceChain(container.id), rules: [rule([], accept)] };
}

/** `implicit`: paths the policy file does not state (legacy links), decided after its own. */
export function connectionChains(policy: Policy, attachments: readonly Attachment[], family: Family,
  implicit: readonly ConnectionRule[] = [], memo: PerContainer = uncached): ConnectionChains {
  const rules = [...(policy.connections ?? []), ...implicit];
  const filter: Chain[] = [];
  const raw: Chain[] = [];
  const dispatch: Rule[] = [];
  const rawDispatch: Rule[] = [];
  const bridges = new Set<string>();
  if (rules.length === 0) return { filter, raw, bridges };
  const sources = sourcesByRule(rules, attachments);
  // Links are rebuilt each compile (new rule objects): with them, nothing is remembered.
  const remember = implicit.length === 0 ? memo : uncached;
  const slot = `connections/${family}`;
  const jumpedTo = new Set<Container>();
  const rawJumpedTo = new Set<Container>();
  const groups = byContainer(attachments);
  for (const [container, onto] of groups) {
    const toRules = remember(container, 'connections/to', () => rules.filter((r) => matchesAny(r.to, container)));
    if (toRules.length === 0) continue;
    const built = remember<Built>(container, slot, () => ({}));
    const inputs = inputsOf(onto, toRules, sources);
    if (!sameInputs(built.inputs, inputs)) {
      const lines: Lines = { rules: [], sources: new Set() };
      const crossing: Lines = { rules: [], sources: new Set() };
      linesTo(container, toRules, sources, family, lines, remember);
      for (const a of onto) linesTo(container, toRules, sources, family, crossing, remember, a);
      const name = connectionChain(container.id);
      built.inputs = inputs;
      built.filter = lines.rules.length > 0 ? destinationChain(name, lines.rules) : undefined;
      built.raw = lines.rules.length > 0 && crossing.rules.length > 0 ? mirrorChain(destinationChain(name, crossing.rules), 'drop') : undefined;
      built.sources = lines.sources;
      built.rawSources = crossing.sources;
      built.dispatch = onto.map((a) => rule([dst(hostCidr(family, a.address))], jump(name)));
    }
    if (!built.filter || !built.dispatch) continue;
    filter.push(built.filter);
    dispatch.push(...built.dispatch);
    for (const s of built.sources ?? []) jumpedTo.add(s);
    for (const a of onto) bridges.add(a.bridge.iface);
    if (!built.raw) continue;
    raw.push(built.raw);
    rawDispatch.push(...built.dispatch);
    for (const s of built.rawSources ?? []) rawJumpedTo.add(s);
  }
  // The source chains, in inventory order; each one object per container and family, so an unchanged one is skipped as in force.
  for (const container of groups.keys()) {
    const chain = (jumpedTo.has(container) || rawJumpedTo.has(container)) ? remember(container, `connections/source/${family}`, () => sourceChainOf(container)) : undefined;
    if (chain && jumpedTo.has(container)) filter.push(chain);
    if (chain && rawJumpedTo.has(container)) raw.push(chain);
  }
  // Dispatch lines are keyed by destination address: no two match the same packet.
  filter.push({ name: CONNECT, rules: dispatch, unordered: true });
  if (rawDispatch.length > 0) raw.push({ name: CONNECT, rules: rawDispatch, unordered: true });
  return { filter, raw, bridges };
}

/**
 * compile: (inventory, policy, options) → one ruleset per address family. Pure: no I/O,
 * no clock; linear in the size of the inventory. Everything dockward does to a packet is
 * decided here and can be read in `dockward plan`.
 */
import type { Inventory } from '../inventory/types.js';
import type { OwnSet, Policy } from '../policy/types.js';
import { CHAIN_PREFIX, type Chain, type Family, type Hook, type Rule, type Ruleset, type Table, type TableName } from '../ruleset/types.js';
import { buildModel } from './model.js';
import { withCanaries } from './canary.js';
import { CONNECT, DOCKER_USER, OUTPUT, PREROUTING, PUBLISH, REJECT_LATER, REJECT_MARK } from './names.js';
import { connectionChains } from './connections.js';
import { linkConnections } from './links.js';
import { egressChains, outboundLines } from './egress.js';
import { hostChains } from './host.js';
import { inputChains } from './input.js';
import { loggedNotes, withLogging } from './logging.js';
import { labelNotes } from './labels.js';
import { withExistingSets, type ExistingSets } from './sets.js';
import { mirrorChain } from './mirror.js';
import { networkChains } from './networks.js';
import { containerParts, publishedChains, type BindingAccess } from './published.js';
import type { CompileCache } from './cache.js';
import type { Publication } from './model.js';

export type { BindingAccess };
import { ctNew, jump, localDst, rule } from './rules.js';

export interface CompileOptions {
  /** Packet-mark bit that tags sources the policy rejects (see compile/networks.ts guard). */
  readonly rejectMark: number;
  /** ipsets that exist on the host (dataplane/ipset.ts): rules naming another set are left out (compile/sets.ts). */
  readonly ipsets?: ExistingSets;
}

export const DEFAULT_OPTIONS: CompileOptions = { rejectMark: 0x1000000 };

export interface Compiled {
  readonly rulesets: readonly Ruleset[];
  /** Things left out or not handled, for the log. */
  readonly notes: readonly string[];
  /** Per published binding, who may use it (for revoking flows the policy no longer allows). */
  readonly access: readonly BindingAccess[];
  /** dockward's own ipsets the rules match: loaded (dataplane/ipset.ts) before the rules. */
  readonly ownSets: readonly OwnSet[];
  /** Docker's bridge interfaces (validated names): kernel settings are checked on these. */
  readonly bridges: readonly string[];
  readonly stats: { readonly containers: number; readonly mappings: number; readonly rules: number };
}

const BUILTINS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
const ENTRY_CHAINS: ReadonlySet<string> = new Set(BUILTINS.map((b) => CHAIN_PREFIX + b));

/** One hook per entry chain the table holds (DOCKWARD-FORWARD → FORWARD, …), so a built-in chain is hooked only when used. */
function hooks(table: TableName, chains: readonly Chain[]): Hook[] {
  const present = new Set<string>();
  for (const c of chains) if (ENTRY_CHAINS.has(c.name)) present.add(c.name);
  // DOCKER-USER first in FORWARD, as with Docker: scripts that put rules there keep working.
  const user: Hook[] = table === 'filter' ? [{ builtin: 'FORWARD', rule: rule([], jump(DOCKER_USER), 'hook') }] : [];
  const own = BUILTINS.filter((b) => present.has(CHAIN_PREFIX + b)).map((builtin) => ({ builtin, rule: rule([], jump(CHAIN_PREFIX + builtin), 'hook') }));
  return [...user, ...own];
}

/**
 * A table's chains, in the order the compiler builds them: shared chains first, then each
 * container's in inventory order (sorted by id), so the same inputs give the same text. Not
 * sorted by name: at a thousand containers a sort per compile was a tenth of an event's cost.
 * The canary is added once the rules are final (withCanaries).
 */
function table(name: TableName, chains: Chain[]): Table {
  return name === 'filter' ? { chains, hooks: hooks(name, chains), ensure: [DOCKER_USER] } : { chains, hooks: hooks(name, chains) };
}

/** IPv6: link-local sources are never translated (Docker 28+). */
const LINK_LOCAL: Rule = rule([{ kind: 'source', cidr: 'fe80::/10' }], { kind: 'RETURN' }, 'link-local');
/** IPv4: nothing from outside the host may address its loopback (route_localnet is on for bridges). */
const LOOPBACK: Rule = rule([{ kind: 'destination', cidr: '127.0.0.0/8' }, { kind: 'in', iface: 'lo', negate: true }], { kind: 'DROP' }, 'loopback');

function compileFamily(inventory: Inventory, policy: Policy, options: CompileOptions, family: Family, cache?: CompileCache) {
  const model = buildModel(inventory, family, policy, cache?.of);
  const networks = new Map(model.bridges.map((b) => [b.name, b.iface]));
  const compute = (p: Publication) => containerParts(p, policy, family, networks);
  const parts = cache ? (p: Publication) => cache.parts(p.container, family, () => compute(p)) : compute;
  const published = publishedChains(model.publications, parts);
  const connections = connectionChains(policy, model.attachments, family, linkConnections(inventory), cache?.of);
  const fromHost = hostChains(policy, model.publications, model.attachments, family);
  const egress = egressChains(policy, model.attachments, family, cache?.of);
  const input = inputChains(policy, egress, model.bridges, family, networks);
  const perNetwork = networkChains(model.bridges, family, options.rejectMark, connections.bridges, (b) => outboundLines(b, egress, policy, family));
  const toPublished = rule([localDst], jump(PUBLISH));
  const natEntry = family === 'ipv6' ? [LINK_LOCAL, toPublished] : [toPublished];
  // Allowed paths across networks are exempt from the subnet drops that follow (connections.ts).
  const rawConnect = connections.raw.length > 0 ? [rule([], jump(CONNECT))] : [];
  const raw = { ...perNetwork.raw, rules: [...(family === 'ipv4' ? [LOOPBACK] : []), ...rawConnect, ...perNetwork.raw.rules] };
  const ruleset: Ruleset = {
    family,
    ...(policy.host?.manage ? { exclusive: true } : {}),
    dockerBridges: model.bridges.map((b) => b.iface),
    tables: {
      raw: table('raw', [raw, ...connections.raw]),
      mangle: table('mangle', [
        { name: PREROUTING, rules: [rule([localDst, ctNew], jump(PUBLISH))] },
        { name: REJECT_MARK, rules: [rule([], { kind: 'MARK', value: options.rejectMark, mask: options.rejectMark })] },
        ...withGlobalGuard(perNetwork.mangleGuard, egress.active || connections.filter.length > 0 || fromHost.mangle.length > 0, options.rejectMark), ...published.mangle,
        ...fromHost.mangle,
        perNetwork.mangleForward, ...connections.filter.map((c) => mirrorChain(c, 'mark')),
        ...egress.forward.map((c) => mirrorChain(c, 'mark')), ...[...input, ...egress.host].map((c) => mirrorChain(c, 'drop')),
      ]),
      filter: table('filter', [perNetwork.filterForward, ...published.filter, ...connections.filter, ...egress.forward, ...input, ...egress.host, ...fromHost.filter]),
      nat: table('nat', [
        { name: PREROUTING, rules: natEntry }, { name: OUTPUT, rules: [toPublished] },
        perNetwork.natPostrouting, ...published.nat,
      ]),
    },
  };
  const logged = withLogging(ruleset, loggedNotes(policy));
  // Canaries last: one per table, naming the policy (canary.ts).
  return { ruleset: withCanaries(cache ? cache.reuse(logged) : logged, policy), model, access: published.access };
}

/**
 * Rejections of outbound and container-to-container traffic are marked in mangle FORWARD
 * (mirror.ts) and may leave by any interface, an internal network's bridge included: the
 * guard then drops every marked packet, not only those to a published container's bridge.
 * Only dockward's own rules set the mark.
 */
function withGlobalGuard(guard: Chain, needed: boolean, mark: number): Chain[] {
  if (!needed) return [guard];
  const later = { name: REJECT_LATER, rules: [rule([], { kind: 'MARK', value: mark, mask: mark }), rule([], { kind: 'ACCEPT' })] };
  return [{ ...guard, rules: [...guard.rules, rule([{ kind: 'mark', value: mark, mask: mark }], { kind: 'DROP' }, 'reject-guard')] }, later];
}

function countRules(ruleset: Ruleset): number {
  return Object.values(ruleset.tables).reduce((n, t) => n + t.hooks.length + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
}

/**
 * Both families, each its own ruleset (and its own restore transaction). A CompileCache
 * makes a compile after a small change cost what changed; the result is the same.
 */
export function compile(inventory: Inventory, declared: Policy, options: CompileOptions = DEFAULT_OPTIONS, cache?: CompileCache): Compiled {
  const { policy, notes: setNotes } = withExistingSets(declared, options.ipsets);
  cache?.begin(policy, inventory.networks);
  const families = (['ipv4', 'ipv6'] as const).map((family) => compileFamily(inventory, policy, options, family, cache));
  return {
    rulesets: families.map((f) => f.ruleset),
    notes: [...new Set([...families.flatMap((f) => f.model.notes), ...labelNotes(policy, inventory), ...setNotes])],
    ownSets: policy.ownSets ?? [],
    access: ([] as BindingAccess[]).concat(...families.map((f) => f.access)),
    bridges: [...new Set(families.flatMap((f) => f.model.bridges.map((b) => b.iface)))],
    stats: {
      containers: inventory.containers.length,
      mappings: families.reduce((n, f) => n + f.model.publications.reduce((m, p) => m + p.bindings.length, 0), 0),
      rules: families.reduce((n, f) => n + countRules(f.ruleset), 0),
    },
  };
}

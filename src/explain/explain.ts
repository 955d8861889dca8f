/**
 * explain: one container, each of its published bindings, who may reach it and which
 * rule decides, the chains that implement it — and, for a `--from` question, what the
 * compiled rules do with a new connection from there; then its outbound paths, its direct
 * paths with every other container both ways, and the host's direct path to it. Pure:
 * the host's addresses and ipsets come in as data.
 */
import { accessLines, rulesFor } from '../compile/access.js';
import { compile } from '../compile/index.js';
import { withExistingSets, type ExistingSets } from '../compile/sets.js';
import { linkConnections } from '../compile/links.js';
import { buildModel, type Model, type Publication } from '../compile/model.js';
import { ownChains } from '../compile/names.js';
import type { Container, Inventory } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import type { Family, Ruleset, TableName } from '../ruleset/types.js';
import { familyOfAddress, inCidr, type HostView } from '../trace/index.js';
import { ask, checkLines, hostAccess, isLoopback, isRouted, type BindingContext } from './answer.js';
import type { NetworkNames } from './decider.js';
import { findContainer } from './find.js';
import { hostDirectOf } from './host-direct.js';
import { lineViews, summary } from './lines.js';
import type { BindingView, ChainRef, ChainRole, ContainerView, Explanation, HostDirectView, OutboundView, PeerView } from './model.js';
import { nothingPublished } from './nothing.js';
import { outboundOf } from './outbound.js';
import type { PathContext } from './paths.js';
import { peersOf } from './peers.js';
import { isDialable, resolveSource, type FromSpec, type HostAddress, type Source } from './source.js';

export interface ExplainInput {
  readonly inventory: Inventory;
  readonly policy: Policy;
  /** The host's interface addresses (os.networkInterfaces()); empty when unknown. */
  readonly host: readonly HostAddress[];
  /** A container name or id prefix. */
  readonly container: string;
  readonly from?: FromSpec;
  /** ipsets that exist on the host, as compile takes them: rules naming another set are left out, here as in the kernel. */
  readonly ipsets?: ExistingSets;
}

/** Stands in for "a host address" when the host has none of the family that a client could dial. */
const STAND_IN_HOST: Readonly<Record<Family, string>> = { ipv4: '192.0.2.1', ipv6: '2001:db8::1' };

interface FamilyView {
  readonly ruleset: Ruleset;
  readonly model: Model;
  readonly host: HostView;
  readonly defaultDestination: string;
  /** defaultDestination is a stand-in: the host has no address of the family a client could dial. */
  readonly assumed: boolean;
  /** Network names → bridges, for `network:NAME` sources: the map compile builds from the same model. */
  readonly networks: ReadonlyMap<string, string>;
  readonly names: NetworkNames;
}

function familyView(ruleset: Ruleset, inventory: Inventory, policy: Policy, host: readonly HostAddress[]): FamilyView {
  const family = ruleset.family;
  const model = buildModel(inventory, family, policy);
  const bridgeIfaces = new Set(model.bridges.map((b) => b.iface));
  const gateways = model.bridges.flatMap((b) => b.subnets.flatMap((s) => (s.gateway ? [s.gateway] : [])));
  const bound = model.publications.flatMap((p) => p.bindings.flatMap((b) => (b.hostIp ? [b.hostIp] : [])));
  const own = host.filter((h) => familyOfAddress(h.address) === family);
  const bridges = model.bridges.flatMap((b) => b.subnets.map((s) => ({ cidr: s.cidr, iface: b.iface })));
  const containerSide = (h: HostAddress) => bridgeIfaces.has(h.iface) || DOCKER_BRIDGE.test(h.iface)
    || gateways.includes(h.address) || bridges.some((b) => inCidr(h.address, b.cidr));
  // A client dials an address of the host's own links, never a bridge's gateway; with none known, a stand-in, said so.
  const link = own.find((h) => !containerSide(h) && isDialable(h.address))?.address;
  const dialled = link ?? STAND_IN_HOST[family];
  const localAddresses = [...new Set([...own.map((h) => h.address), ...gateways, ...bound, dialled])];
  const networks = new Map(model.bridges.map((b) => [b.name, b.iface]));
  const names = { bridges: model.bridges, overrides: policy.networks ?? [] };
  return { ruleset, model, host: { localAddresses, bridges }, defaultDestination: dialled, assumed: link === undefined, networks, names };
}

/** Docker's bridges on this machine (an --inventory file may come from another): their addresses are no client's destination. */
const DOCKER_BRIDGE = /^(docker\d+|br-[0-9a-f]{12})$/;

/** When a `--from` answer dialled the stand-in host address, the reader must know it is one. */
function assumedWarnings(views: readonly FamilyView[], bindings: readonly BindingView[]): string[] {
  return views.filter((v) => v.assumed && bindings.some((b) => b.family === v.ruleset.family && b.answer?.destination === v.defaultDestination))
    .map((v) => `this host has no ${v.ruleset.family === 'ipv4' ? 'IPv4' : 'IPv6'} address outside the container networks that a client could dial: `
      + `traced as dialling ${v.defaultDestination}, a stand-in for one`);
}

function containerView(c: Container): ContainerView {
  return {
    id: c.id, name: c.name, image: c.image, networkMode: c.networkMode,
    networks: c.endpoints.map((e) => ({ name: e.networkName, ...(e.ipv4 ? { ipv4: e.ipv4 } : {}), ...(e.ipv6 ? { ipv6: e.ipv6 } : {}) })),
  };
}

function addressNames(inventory: Inventory): Map<string, string> {
  const names = new Map<string, string>();
  for (const c of inventory.containers) for (const e of c.endpoints) for (const a of [e.ipv4, e.ipv6]) if (a) names.set(a, c.name);
  return names;
}

const TABLES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];

/** The container's own chains, in every table that holds them, with what each implements. */
function chainsOf(view: FamilyView, c: Container): ChainRef[] {
  return ownChains(c.id).flatMap(([chain, role]) => TABLES.filter((t) => view.ruleset.tables[t].chains.some((x) => x.name === chain))
    .map((table) => ({ family: view.ruleset.family, table, chain, role })));
}

interface Asked {
  readonly policy: Policy;
  readonly host: readonly HostAddress[];
  readonly names: ReadonlyMap<string, string>;
  readonly source?: Source;
  readonly warnings: string[];
}

/** Who may reach a loopback binding, in words: what a user reads instead of an access list. */
const LOOPBACK_SUMMARY: Readonly<Record<Family, string>> = {
  ipv4: "only the host itself: neighbours' packets to 127.0.0.0/8 are dropped in raw (dockward's loopback rule), so the policy's rules do not come into it",
  ipv6: "only the host itself: the kernel takes ::1 from nobody else, so the policy's rules do not come into it",
};

function bindingViews(view: FamilyView, pub: Publication, asked: Asked): BindingView[] {
  const rules = rulesFor(asked.policy, pub.container);
  return pub.bindings.map((binding) => {
    const loopback = isLoopback(binding) && !isRouted(pub);
    const lines = loopback ? [] : accessLines(rules, asked.policy.defaults.published, binding, view.ruleset.family, view.networks);
    const ctx: BindingContext = {
      ruleset: view.ruleset, host: view.host, hostAddresses: asked.host, publication: pub, binding, lines,
      defaultDestination: view.defaultDestination, names: asked.names, networks: view.names,
    };
    asked.warnings.push(...checkLines(ctx));
    const views = lineViews(lines);
    const s = asked.source;
    const answer = s && (s.family === undefined || s.family === view.ruleset.family) ? ask(ctx, s) : undefined;
    return {
      family: view.ruleset.family, protocol: binding.protocol, ...(binding.hostIp ? { hostIp: binding.hostIp } : {}),
      hostPort: binding.hostPort, containerAddress: pub.address, containerPort: binding.containerPort,
      ...(isRouted(pub) ? { routed: { network: pub.bridge.name } } : {}), ...(loopback ? { loopback: true as const } : {}),
      summary: loopback ? LOOPBACK_SUMMARY[view.ruleset.family] : summary(views), lines: views, fromHost: hostAccess(ctx), ...(answer ? { answer } : {}),
    };
  });
}

function sourceWarnings(source: Source | undefined, bindings: readonly BindingView[]): string[] {
  if (!source) return [];
  const out: string[] = [];
  if (source.how === 'unknown') {
    out.push(`${source.address} is on none of the host's links or container networks: traced as arriving on an interface no rule names; give --from ${source.address}@INTERFACE to choose one`);
  }
  if (bindings.length > 0 && !bindings.some((b) => b.answer)) out.push(`no binding of this container is ${source.family === 'ipv6' ? 'IPv6' : 'IPv4'}: nothing to trace from ${source.address}`);
  return out;
}

interface Paths {
  readonly outbound: OutboundView[];
  readonly peers: PeerView[];
  readonly hostDirect: HostDirectView[];
}

/** Outbound, container-to-container and host-direct paths of the container in one family, traced. */
function pathsOf(view: FamilyView, c: Container, input: ExplainInput, into: Paths): void {
  const ctx: PathContext = { ruleset: view.ruleset, host: view.host, networks: view.names, hostAddresses: input.host };
  const own = view.model.attachments.filter((a) => a.container.id === c.id);
  const rules = [...(input.policy.connections ?? []), ...linkConnections(input.inventory)];
  into.outbound.push(...own.map((a) => outboundOf(ctx, a, input.policy)));
  if (own.length > 0) into.peers.push(...peersOf(ctx, c, view.model.attachments, rules));
  into.hostDirect.push(...own.map((a) => hostDirectOf(ctx, a, input.policy)));
}

export function explain(declared: ExplainInput): Explanation {
  // The policy as compiled: rules naming a missing ipset are out of the rules, so out of the answer too.
  const sets = withExistingSets(declared.policy, declared.ipsets);
  const input = { ...declared, policy: sets.policy };
  const container = findContainer(input.inventory, input.container);
  // Already resolved against the ipsets: compile has nothing left to leave out.
  const compiled = compile(input.inventory, input.policy);
  const views = compiled.rulesets.map((r) => familyView(r, input.inventory, input.policy, input.host));
  const source = input.from && resolveSource(input.from, {
    host: input.host,
    localAddresses: views.flatMap((v) => v.host.localAddresses),
    bridges: views.flatMap((v) => v.host.bridges),
  });
  const asked: Asked = { policy: input.policy, host: input.host, names: addressNames(input.inventory), warnings: [], ...(source ? { source } : {}) };
  const bindings: BindingView[] = [];
  const chains: ChainRef[] = [];
  const paths: Paths = { outbound: [], peers: [], hostDirect: [] };
  for (const view of views) {
    const pub = view.model.publications.find((p) => p.container.id === container.id);
    chains.push(...chainsOf(view, container));
    pathsOf(view, container, input, paths);
    if (pub) bindings.push(...bindingViews(view, pub, asked));
  }
  // Notes about other containers are theirs; the rest (a missing ipset, a network left out) may change this answer.
  const notes = [...sets.notes, ...compiled.notes].filter((n) => !n.startsWith('container ') || n.startsWith(`container ${container.id.slice(0, 12)}`));
  const nothing = bindings.length === 0 ? nothingPublished(container, input.inventory) : undefined;
  return {
    container: containerView(container), policy: input.policy.origin, ...(nothing ? { nothing } : {}),
    chains, bindings, ...paths, ...(source ? { from: source } : {}),
    warnings: [...notes, ...asked.warnings, ...sourceWarnings(source, bindings), ...assumedWarnings(views, bindings)],
  };
}

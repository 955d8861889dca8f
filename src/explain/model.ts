/**
 * The explanation of one container, as data: what `explain --json` prints and what the
 * text rendering reads. Who may reach each published binding comes from the policy, as
 * the compiler evaluates it; the answer to a `--from` question, and every line of the
 * outbound, container-to-container and host-direct paths, comes from tracing a packet
 * through the compiled rules, so it says what the kernel will do.
 */
import type { Action } from '../policy/types.js';
import type { Family, L4Protocol, TableName } from '../ruleset/types.js';
import type { OwnChainRole } from '../compile/names.js';
import type { Source } from './source.js';

/** The policy sections whose rules decide: the file's `rules`, a container's label clauses, and the rest. */
export type RuleSection = 'rules' | 'label' | 'egress' | 'connections' | 'host.toContainers' | 'host.input';

/**
 * What decides: a policy rule (by its place, e.g. `rules[2]`, `label[0]`, `egress[1]`, and
 * name), a default, the host exemption, a network's ICC setting, isolation between
 * networks, or one of dockward's own rules (by its note).
 */
export type Decider =
  | { readonly kind: 'rule'; readonly section: RuleSection; readonly index: number; readonly place: string; readonly name?: string }
  | { readonly kind: 'default'; readonly setting: 'defaults.published' | 'defaults.outbound' | 'host.default' }
  | { readonly kind: 'host' }
  /** `by`: "enable_icc" (Docker's network option) or the policy's `networks.PATTERN`. */
  | { readonly kind: 'icc'; readonly network: string; readonly icc: boolean; readonly by: string }
  | { readonly kind: 'isolation' }
  | { readonly kind: 'dockward'; readonly note: string };

export interface LineView {
  /** The source as the policy names it, with the zone's interfaces and addresses: "zone:external (eth0)". */
  readonly source: string;
  readonly iface?: string;
  readonly cidr?: string;
  /** The ipset whose members the line is about (a ban list, or a big zone of dockward's own). */
  readonly set?: string;
  readonly action: Action;
  readonly decidedBy: Decider;
}

export interface PathStep {
  readonly table: TableName;
  readonly chain: string;
  readonly index: number;
  /** The rule's matches as iptables-save prints them. */
  readonly rule: string;
  readonly target: string;
  readonly note?: string;
}

export type TraceVerdict = 'delivered' | 'dropped' | 'rejected' | 'host' | 'forwarded';

/** One `--from` question about one binding, answered by the tracer. */
export interface Answer {
  readonly source: string;
  /** The inbound interface used for the trace; "host" for the host itself; null when unknown. */
  readonly iface: string | null;
  readonly destination: string;
  readonly port: number;
  /** True when the packet reaches this binding's container port. */
  readonly allowed: boolean;
  readonly verdict: TraceVerdict;
  readonly rejectWith?: string;
  /**
   * The reject the rules send that the source never sees (verdict "dropped"): a reset for a
   * container's translated connection leaves by the bridge port before NAT restores the
   * address it dialled (README, Limitations).
   */
  readonly rejectUnseen?: string;
  readonly deliveredTo?: { readonly address: string; readonly port: number; readonly container?: string };
  readonly decidedBy?: Decider;
  readonly path: readonly PathStep[];
  /** Operator chains on the way (DOCKER-USER) whose rules are not dockward's and were taken as empty. */
  readonly notTraced?: readonly string[];
}

export interface BindingView {
  readonly family: Family;
  readonly protocol: L4Protocol;
  /** Undefined: every host address of the family. */
  readonly hostIp?: string;
  readonly hostPort: number;
  readonly containerAddress: string;
  readonly containerPort: number;
  /**
   * On a routed network (gateway_mode routed): nothing is translated, clients dial the
   * container's address and container port, and the host port is not used.
   */
  readonly routed?: { readonly network: string };
  /**
   * Bound to the host's loopback (127.0.0.1, ::1): only the host itself reaches it, so
   * `lines` is empty (the policy's rules do not come into it).
   */
  readonly loopback?: true;
  /** The whole access list in one sentence. */
  readonly summary: string;
  /** First match wins, top to bottom; the last line is the catch-all. The host itself is not among them (see fromHost). */
  readonly lines: readonly LineView[];
  /** The host's own traffic (host processes, host-network containers), traced. */
  readonly fromHost: { readonly allowed: boolean; readonly decidedBy?: Decider };
  readonly answer?: Answer;
}

/** What a chain of the container implements. */
export type ChainRole = OwnChainRole;

export interface ChainRef {
  readonly family: Family;
  readonly table: TableName;
  readonly chain: string;
  readonly role: ChainRole;
}

/** One traced question about a path that is not a published port: a destination and port, and what the rules do. */
export interface PathLine {
  /** What the line covers, in the policy's words: "zone:resolvers (192.0.2.53/32) 53/udp", "5432/tcp", "other ports". */
  readonly what: string;
  /** The new connection traced for it (a port the line covers; for "other ports", one no line names). */
  readonly packet: { readonly source: string; readonly iface: string; readonly destination: string; readonly protocol: L4Protocol; readonly port: number };
  /** What the compiled rules do with it: allow (it gets there), deny (dropped) or reject. */
  readonly action: Action;
  readonly verdict: TraceVerdict;
  readonly rejectWith?: string;
  readonly decidedBy?: Decider;
  /** dockward's chains on the way, as "table chain": the rules that implement the line. */
  readonly chains: readonly string[];
}

/** The container's own new connections to other hosts and to the host itself: egress rules, then defaults.outbound. */
export interface OutboundView {
  readonly family: Family;
  readonly network: string;
  /** The container's address the connections leave from. */
  readonly address: string;
  readonly lines: readonly PathLine[];
}

/** Direct container-to-container traffic with one other container, one way. */
export interface PeerView {
  /** in: the peer dials this container's address; out: this container dials the peer's. */
  readonly direction: 'in' | 'out';
  readonly family: Family;
  readonly peer: string;
  readonly peerAddress: string;
  readonly address: string;
  /** The network both are on, when they share the one the destination address is on. */
  readonly sharedNetwork?: string;
  /** connections rules first (first match wins), then "other ports": ICC or isolation. */
  readonly lines: readonly PathLine[];
}

/** The host itself dialling the container's address directly: host.toContainers, else allowed as with Docker. */
export interface HostDirectView {
  readonly family: Family;
  readonly address: string;
  readonly lines: readonly PathLine[];
}

export interface ContainerView {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly networkMode: string;
  readonly networks: readonly { readonly name: string; readonly ipv4?: string; readonly ipv6?: string }[];
}

export interface Explanation {
  readonly container: ContainerView;
  readonly policy: string;
  /** Why no binding is listed, when none is. */
  readonly nothing?: string;
  readonly chains: readonly ChainRef[];
  readonly bindings: readonly BindingView[];
  readonly outbound: readonly OutboundView[];
  /** Direct paths with every other container, both ways. */
  readonly peers: readonly PeerView[];
  readonly hostDirect: readonly HostDirectView[];
  readonly from?: Source;
  /** Anything the reader must know: an unknown interface, a disagreement between policy and rules. */
  readonly warnings: readonly string[];
}

/**
 * What the tracer takes and gives: a packet that opens a new connection, the few facts
 * about the host the rules depend on (its own addresses, its container networks), and
 * the verdict with every rule the packet matched on its way.
 */
import type { Family, L4Protocol, Rule, TableName } from '../ruleset/types.js';

/** The inbound "interface" of a packet the host sends itself (a host process, a host-network container). */
export const FROM_HOST = 'host';

export interface Packet {
  readonly family: Family;
  readonly protocol: L4Protocol;
  readonly source: string;
  /** The interface the packet arrives on, or FROM_HOST for one the host itself sends. */
  readonly inIface: string;
  readonly destination: string;
  readonly dport: number;
  /**
   * The interface the route to a destination leaves by when it is neither the host's nor
   * on a container network (a zone's outbound interface); none given: a route no rule names.
   */
  readonly via?: string;
}

export interface HostView {
  /** The host's own addresses: what `-m addrtype --src-type/--dst-type LOCAL` match (loopback always counts). */
  readonly localAddresses: readonly string[];
  /** Container networks: a destination in one of these subnets is routed out of its bridge. */
  readonly bridges: readonly { readonly cidr: string; readonly iface: string }[];
}

/** One rule the packet matched: in a built-in chain (a hook) or in an owned chain. */
export interface Step {
  readonly table: TableName;
  readonly chain: string;
  /** 0-based position in the chain (for a hook: among the chain's hooks). */
  readonly index: number;
  readonly rule: Rule;
}

export type Verdict =
  /** Accepted all the way and sent out of a container network's bridge. */
  | { readonly kind: 'delivered'; readonly address: string; readonly port: number; readonly iface: string }
  /** The destination is (still) an address of the host: INPUT let it in, the host itself answers. */
  | { readonly kind: 'host' }
  /** Accepted and routed somewhere that is neither the host nor a container network. */
  | { readonly kind: 'forwarded'; readonly address: string; readonly port: number }
  | { readonly kind: 'dropped'; readonly step: Step }
  | { readonly kind: 'rejected'; readonly with: string; readonly step: Step };

export interface Trace {
  readonly packet: Packet;
  readonly verdict: Verdict;
  /** The destination translation, when a DNAT rule matched. */
  readonly dnat?: { readonly address: string; readonly port: number; readonly step: Step };
  /** Source translation in POSTROUTING: MASQUERADE, or the SNAT address. */
  readonly snat?: { readonly to: string; readonly step: Step };
  readonly steps: readonly Step[];
  /**
   * Chains jumped to that belong to the operator (a table's `ensure`, e.g. DOCKER-USER):
   * their rules are not dockward's and are taken as empty.
   */
  readonly opaque: readonly string[];
}

/** The ruleset holds something the tracer cannot evaluate faithfully: better no answer than a wrong one. */
export class TraceError extends Error {
  override name = 'TraceError';
}

/**
 * The explanation of one container, as data: what `explain --json` prints and what the
 * text rendering reads. Who may reach each published binding comes from the policy, as
 * the compiler evaluates it; the answer to a `--from` question comes from tracing a
 * packet through the compiled rules, so it says what the kernel will do.
 */
import type { Action } from '../policy/types.js';
import type { Family, L4Protocol, TableName } from '../ruleset/types.js';
import type { Source } from './source.js';

/** What decides: a policy rule, the default, the host exemption, or one of dockward's own rules (by its note). */
export type Decider =
  | { readonly kind: 'rule'; readonly index: number; readonly name?: string }
  | { readonly kind: 'default' }
  | { readonly kind: 'host' }
  | { readonly kind: 'dockward'; readonly note: string };

export interface LineView {
  /** The source as the policy names it, with the zone's interfaces and addresses: "zone:external (eth0)". */
  readonly source: string;
  readonly iface?: string;
  readonly cidr?: string;
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
  /** The whole access list in one sentence. */
  readonly summary: string;
  /** First match wins, top to bottom; the last line is the catch-all. */
  readonly lines: readonly LineView[];
  /** The host's own traffic (host processes, host-network containers), traced. */
  readonly fromHost: { readonly allowed: boolean; readonly decidedBy?: Decider };
  readonly answer?: Answer;
}

export interface ChainRef {
  readonly family: Family;
  readonly table: TableName;
  readonly chain: string;
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
  readonly from?: Source;
  /** Anything the reader must know: an unknown interface, a disagreement between policy and rules. */
  readonly warnings: readonly string[];
}

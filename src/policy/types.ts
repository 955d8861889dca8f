/**
 * The normalised policy: what the compiler consumes. Produced from the YAML/JSON file by
 * policy/load.ts (parse → validate → normalise); every reference (zone names, ports,
 * addresses) is already resolved and checked, so the compiler never fails on policy input.
 */
import type { Protocol } from '../inventory/types.js';

export type Action = 'allow' | 'deny' | 'reject';

/** An inclusive port range of one protocol; a single port has from === to. */
export interface PortRange {
  readonly protocol: Protocol;
  readonly from: number;
  readonly to: number;
}

/**
 * One way a packet can match a source: an inbound interface and/or an address block.
 * Both given: both must match. Neither given: any source.
 */
export interface SourceMatch {
  /** Linux interface name; a trailing "+" is iptables' wildcard. */
  readonly iface?: string;
  /** Normalised CIDR (network address, explicit prefix), IPv4 or IPv6. */
  readonly cidr?: string;
  /**
   * A Docker network by name: its containers, reaching a published port through a host
   * address. Resolved by the compiler to the network's bridge (inbound interface); a
   * network that does not exist matches nothing.
   */
  readonly network?: string;
  /**
   * An ipset whose members are the addresses (`-m set --match-set NAME src`): a set kept
   * by another tool (family unknown until the compiler sees which sets exist), or one of
   * dockward's own (`setFamily` given).
   */
  readonly set?: string;
  readonly setFamily?: 'ipv4' | 'ipv6';
  /** Where it came from, for plan output: "zone:office", "192.0.2.10", "any". */
  readonly label: string;
}

/** A set dockward keeps itself: a zone's many CIDRs of one family. */
export interface OwnSet {
  readonly name: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly cidrs: readonly string[];
}

/** All keys given must match. Globs use * and ?, case-sensitive. */
export interface Selector {
  readonly name?: string;
  readonly label?: { readonly key: string; readonly value?: string };
  /** "project/service" globs, split. */
  readonly compose?: { readonly project: string; readonly service: string };
  readonly image?: string;
}

export interface AccessRule {
  /** 0-based position in the file's `rules` (or in a container's label), for messages and comments. */
  readonly index: number;
  /** Where the rule came from when not the file's `rules`: "label[0]" for a container's dockward.rules label. */
  readonly place?: string;
  readonly name?: string;
  /** Any of these selectors; undefined = every container. */
  readonly containers?: readonly Selector[];
  /** Host ports the client dialled; undefined = any. */
  readonly ports?: readonly PortRange[];
  /** Container-side ports; undefined = any. */
  readonly containerPorts?: readonly PortRange[];
  /** Any of these sources; `any` is a single empty match. */
  readonly from: readonly SourceMatch[];
  readonly action: Action;
  /** Log matched packets (rate-limited, prefixed with the rule's place) before the verdict. */
  readonly log?: true;
}

/** A Docker network's ICC setting, overriding its enable_icc option; `pattern` is a glob on the network name. */
export interface NetworkOverride {
  readonly pattern: string;
  readonly icc: 'allow' | 'deny';
}

/**
 * Direct container-to-container traffic (one container dialling another's address):
 * across networks it opens a path through the isolation; within a network it decides
 * before the network's ICC setting.
 */
export interface ConnectionRule {
  /** 0-based position in the file's `connections`. */
  readonly index: number;
  readonly name?: string;
  readonly from: readonly Selector[];
  readonly to: readonly Selector[];
  /** Ports of the `to` container (what the client dials); undefined = any. */
  readonly ports?: readonly PortRange[];
  readonly action: Action;
  /** Log matched packets (rate-limited, prefixed with the rule's place) before the verdict. */
  readonly log?: true;
}

/**
 * Outbound traffic a container opens to something that is neither a container nor
 * dockward's business otherwise: other hosts, and the host itself. Destinations are
 * SourceMatch values read the other way round: `cidr` is the destination block, `iface`
 * the OUTBOUND interface (never matches traffic to the host itself).
 */
export interface EgressRule {
  /** 0-based position in the file's `egress`. */
  readonly index: number;
  readonly name?: string;
  /** Undefined = every container. */
  readonly containers?: readonly Selector[];
  /** Any of these destinations; `any` is a single empty match. */
  readonly to: readonly SourceMatch[];
  /** Destination ports; undefined = any. */
  readonly ports?: readonly PortRange[];
  readonly action: Action;
  /** Log matched packets (rate-limited, prefixed with the rule's place) before the verdict. */
  readonly log?: true;
}

/**
 * Traffic from the host itself (host processes, host-network containers) to containers:
 * to a published port on a host address or 127.0.0.1, or straight to a container address.
 */
export interface HostRule {
  /** 0-based position in the file's `host.toContainers`. */
  readonly index: number;
  readonly name?: string;
  readonly containers?: readonly Selector[];
  /** The port the host dials: a published host port, or the container port when it dials the container's address. */
  readonly ports?: readonly PortRange[];
  /** The container side, on either path. */
  readonly containerPorts?: readonly PortRange[];
  readonly action: Action;
  /** Log matched packets (rate-limited, prefixed with the rule's place) before the verdict. */
  readonly log?: true;
}

/** Traffic to the host itself, in exclusive mode (`host.manage: true`). */
export interface InputRule {
  /** 0-based position in the file's `host.input`. */
  readonly index: number;
  readonly name?: string;
  /** The host's ports; undefined = any. */
  readonly ports?: readonly PortRange[];
  /** Any of these sources; `any` is a single empty match. */
  readonly from: readonly SourceMatch[];
  readonly action: Action;
  readonly log?: true;
}

export interface HostPolicy {
  /** Absent = none: the host reaches every container port, as with Docker. */
  readonly toContainers?: readonly HostRule[];
  /**
   * Exclusive mode: dockward owns the host's whole iptables ruleset, INPUT included.
   * Absent = coexist mode (the default).
   */
  readonly manage?: {
    readonly input: readonly InputRule[];
    /** When no input rule decides; loopback, replies and essential ICMP are always allowed. */
    readonly default: Action;
    readonly log?: true;
  };
}

/** Rules from the containers' own `dockward.rules` labels (opt-in). */
export interface LabelPolicy {
  /** Label rules are tried after the file's rules (default) or before them. */
  readonly position: 'after' | 'before';
  /** A label inherited unchanged from the image counts only when true. */
  readonly trustImageLabels: boolean;
  /** The file's zones, expanded, for `zone:NAME` in labels. */
  readonly zones: Readonly<Record<string, readonly SourceMatch[]>>;
}

export interface Policy {
  readonly version: 1;
  /** `outbound` absent = allow, as Docker does. `log` names the defaults whose packets are logged. */
  readonly defaults: {
    readonly published: Action;
    readonly outbound?: Action;
    readonly log?: { readonly published?: true; readonly outbound?: true };
  };
  /** Absent = none. */
  readonly egress?: readonly EgressRule[];
  readonly host?: HostPolicy;
  /** Absent = labels are ignored. */
  readonly labels?: LabelPolicy;
  /** Sets dockward loads before the rules that match them; absent = none. */
  readonly ownSets?: readonly OwnSet[];
  readonly rules: readonly AccessRule[];
  /** ICC overrides, most specific first (exact names, then globs in file order); absent = every network as Docker says. */
  readonly networks?: readonly NetworkOverride[];
  /** Absent = none: networks stay isolated from each other. */
  readonly connections?: readonly ConnectionRule[];
  /** Where the policy came from: a file path, or "built-in default". */
  readonly origin: string;
}

/** A problem found in a policy file: rendered as `FILE: PATH: message`. */
export interface PolicyIssue {
  /** Bracketed 0-based path such as rules[2].from[0]; "" for the document itself. */
  readonly path: string;
  readonly message: string;
}

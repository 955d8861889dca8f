/**
 * Rules as data. A ruleset is tables → chains → rules for one address family; rules are
 * plain values (matches + one target) that render to iptables-restore text and parse back
 * from iptables-save output (ruleset/render.ts and ruleset/parse.ts are inverses).
 */

export type Family = 'ipv4' | 'ipv6';
export type TableName = 'raw' | 'mangle' | 'filter' | 'nat';

/** Order in which table blocks are written: filter before nat, so new DNAT never precedes its filter rules. */
export const TABLE_ORDER: readonly TableName[] = ['raw', 'mangle', 'filter', 'nat'];

export type L4Protocol = 'tcp' | 'udp' | 'sctp';
/** ICMP as iptables-save names it in each family. */
export type IcmpProtocol = 'icmp' | 'ipv6-icmp';

export type Match =
  | { readonly kind: 'source'; readonly cidr: string; readonly negate?: boolean }
  | { readonly kind: 'destination'; readonly cidr: string; readonly negate?: boolean }
  | { readonly kind: 'in'; readonly iface: string; readonly negate?: boolean }
  | { readonly kind: 'out'; readonly iface: string; readonly negate?: boolean }
  | { readonly kind: 'protocol'; readonly protocol: L4Protocol | IcmpProtocol }
  /** `-m tcp --dport A[:B]`; needs a preceding protocol match of the same protocol. */
  | { readonly kind: 'dport'; readonly protocol: L4Protocol; readonly from: number; readonly to: number }
  | { readonly kind: 'addrtype'; readonly dir: 'src' | 'dst'; readonly type: 'LOCAL'; readonly negate?: boolean }
  | { readonly kind: 'ctstate'; readonly states: readonly CtState[] }
  /** Original (pre-DNAT) destination of the connection: address and/or port. */
  | { readonly kind: 'ctorig'; readonly states: readonly CtState[]; readonly dst?: string; readonly dstPort?: number }
  | { readonly kind: 'mark'; readonly value: number; readonly mask: number }
  /** `-m icmp --icmp-type N` / `-m icmp6 --icmpv6-type N`; needs a preceding protocol match of the same protocol. */
  | { readonly kind: 'icmpType'; readonly protocol: IcmpProtocol; readonly type: number }
  /** `-m set --match-set NAME src|dst`: the address is a member of the ipset NAME. */
  | { readonly kind: 'set'; readonly name: string; readonly dir: 'src' | 'dst' }
  /** `-m limit --limit N/min` with the default burst (5): rate-limits the LOG line it sits on. */
  | { readonly kind: 'limit'; readonly perMinute: number };

export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'DNAT';

export type Target =
  | { readonly kind: 'ACCEPT' | 'DROP' | 'RETURN' | 'MASQUERADE' }
  | { readonly kind: 'REJECT'; readonly with: 'tcp-reset' | 'icmp-port-unreachable' | 'icmp6-port-unreachable' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string }
  | { readonly kind: 'DNAT'; readonly to: string }
  | { readonly kind: 'SNAT'; readonly to: string }
  | { readonly kind: 'MARK'; readonly value: number; readonly mask: number }
  /** Non-terminating: logs the packet to the kernel log; the prefix is a validated token (≤ 29 characters). */
  | { readonly kind: 'LOG'; readonly prefix: string };

export interface Rule {
  readonly matches: readonly Match[];
  readonly target: Target;
  /** Human words after the hash tag in the rule's comment (a policy rule's place and name). Validated tokens only. */
  readonly note?: string;
}

export interface Chain {
  readonly name: string;
  readonly rules: readonly Rule[];
  /**
   * The rules form a set: their order does not matter, because no two can match the same
   * packet (dispatch chains: one jump per container) or because every rule ends alike (a
   * connection chain's allowed sources, each a jump into its source's chain that accepts).
   * Such a chain is updated line by line.
   */
  readonly unordered?: boolean;
  /**
   * With `unordered`: a stale line does no harm while it waits for the cleanup — each line
   * leads into a chain that matches the packet's address again itself (dispatch into a
   * container's published chain, by host port or container address), or decides nothing
   * (hairpin masquerade). Without it, a stale line waits only when it leads into a chain
   * emptied meanwhile: a verdict, or a jump into a chain still in force (a connection's
   * destination or source, an egress chain: they do not look at the address again), would
   * serve whoever gets that address next.
   */
  readonly staleMayWait?: boolean;
}

/** A jump from a built-in chain into an owned chain; kept at the top of the built-in chain. */
export interface Hook {
  readonly builtin: string;
  readonly rule: Rule;
}

export interface Table {
  readonly chains: readonly Chain[];
  /** In order: hooks of one built-in chain occupy its first positions, in this order. */
  readonly hooks: readonly Hook[];
  /** Chains that belong to the operator (DOCKER-USER): created when missing, never flushed or deleted. */
  readonly ensure?: readonly string[];
}

export type Tables = Readonly<Record<TableName, Table>>;

export interface Ruleset {
  readonly family: Family;
  readonly tables: Tables;
  /**
   * Exclusive host mode: the ruleset is the whole of these tables. Restored without
   * --noflush (ruleset/exclusive.ts), and any rule or chain that is not dockward's is drift.
   */
  readonly exclusive?: boolean;
  /** Docker's bridge interfaces: rules Docker itself once wrote for them are taken over (removed). */
  readonly dockerBridges?: readonly string[];
}

/** Every chain dockward owns starts with this prefix; nothing else is ever deleted. */
export const CHAIN_PREFIX = 'DOCKWARD-';
/** iptables' limit on chain names. */
export const MAX_CHAIN_NAME = 28;

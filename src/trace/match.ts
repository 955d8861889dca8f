/**
 * Does a rule match a packet at one point of its way? Every Match kind of
 * ruleset/types.ts is evaluated here as the kernel does; a kind this file does not know
 * throws, so a new rule kind can never be silently mis-explained.
 */
import type { CtState, Family, L4Protocol, Match } from '../ruleset/types.js';
import { inCidr, isLocal } from './addresses.js';
import { TraceError } from './types.js';

/** The packet as one table sees it at one hook. */
export interface PacketView {
  readonly family: Family;
  readonly protocol: L4Protocol;
  readonly source: string;
  readonly destination: string;
  readonly dport: number;
  /** "" where the kernel has no device: in for the host's own packets, out in PREROUTING. */
  readonly inIface: string;
  readonly outIface: string;
  readonly mark: number;
  /** Conntrack states the packet is in; undefined before conntrack has seen it (raw table). */
  readonly ct: readonly CtState[] | undefined;
  /** The connection's original destination (before any DNAT). */
  readonly origDestination: string;
  readonly origDport: number;
  readonly localAddresses: readonly string[];
}

/** iptables' interface test: a trailing "+" matches every name with that prefix. */
export function ifaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('+') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function negated(negate: boolean | undefined, result: boolean): boolean {
  return negate ? !result : result;
}

/** Without a conntrack entry (raw table) the kernel's conntrack match sees the state INVALID. */
function statesMatch(wanted: readonly CtState[], p: PacketView): boolean {
  const actual = p.ct ?? ['INVALID'];
  return wanted.some((s) => actual.includes(s));
}

function ctorigMatches(m: Extract<Match, { kind: 'ctorig' }>, p: PacketView): boolean {
  if (m.states.length > 0 && !statesMatch(m.states, p)) return false;
  // No entry yet: only the state test can decide, as in the kernel.
  if (p.ct === undefined) return m.states.length > 0;
  if (m.dst !== undefined && !inCidr(p.origDestination, m.dst)) return false;
  return m.dstPort === undefined || m.dstPort === p.origDport;
}

function addrtypeLocal(m: Extract<Match, { kind: 'addrtype' }>, p: PacketView): boolean {
  if ((m.type as string) !== 'LOCAL') throw new TraceError(`cannot trace addrtype ${String(m.type)}`);
  return isLocal(m.dir === 'src' ? p.source : p.destination, p.localAddresses);
}

export function matchOne(m: Match, p: PacketView): boolean {
  switch (m.kind) {
    case 'source': return negated(m.negate, inCidr(p.source, m.cidr));
    case 'destination': return negated(m.negate, inCidr(p.destination, m.cidr));
    case 'in': return negated(m.negate, ifaceMatches(m.iface, p.inIface));
    case 'out': return negated(m.negate, ifaceMatches(m.iface, p.outIface));
    case 'protocol': return p.protocol === m.protocol;
    case 'dport': return p.protocol === m.protocol && p.dport >= m.from && p.dport <= m.to;
    case 'addrtype': return negated(m.negate, addrtypeLocal(m, p));
    case 'ctstate': return statesMatch(m.states, p);
    case 'ctorig': return ctorigMatches(m, p);
    case 'mark': return ((p.mark & m.mask) >>> 0) === (m.value >>> 0);
    // A rate limit only ever sits on a LOG line, which decides nothing: taken as matching.
    case 'limit': return true;
    // Set members live in the kernel, not in the ruleset: the tracer takes every address as a
    // member, as explain's policy view (a set source without known members) does. Not exact.
    case 'set': return true;
    // The tracer follows TCP, UDP and SCTP packets only: an ICMP type never matches them.
    case 'icmpType': return false;
    default: throw new TraceError(`cannot trace a rule with match kind ${JSON.stringify((m as { kind: unknown }).kind)}`);
  }
}

/** Rules whose every match has been evaluated once: any unknown kind in them would have thrown. */
const vetted = new WeakSet<readonly Match[]>();

export function matchesAll(matches: readonly Match[], p: PacketView): boolean {
  if (vetted.has(matches)) return matches.every((m) => matchOne(m, p));
  // The first time, every match is evaluated, not only up to the first miss: an unknown kind must throw wherever it sits.
  const result = matches.map((m) => matchOne(m, p)).every(Boolean);
  vetted.add(matches);
  return result;
}

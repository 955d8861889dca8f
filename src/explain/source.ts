/**
 * `--from ADDRESS[@INTERFACE]`: who is asking. "host" (or ADDRESS@host) is the host
 * itself. Without an interface, the inbound one is worked out the way the packet would
 * arrive: a host address is the host; an address on a container network arrives on its
 * bridge; one in a subnet the host is connected to, on that interface. Otherwise it is
 * unknown, and said so: the trace then assumes an interface no rule names.
 */
import { UsageError } from '../errors.js';
import type { Family } from '../ruleset/types.js';
import { isInterfaceName } from '../ruleset/tokens.js';
import { familyOfAddress, FROM_HOST, inCidr, isLocal } from '../trace/index.js';

/** The question as typed: no address means "the host itself". */
export interface FromSpec {
  readonly address?: string;
  readonly iface?: string;
}

export type SourceHow = 'given' | 'host address' | 'container network' | 'connected subnet' | 'unknown';

/** The question as understood. */
export interface Source {
  /** Undefined for the host itself: it sends from the address it dials. */
  readonly address?: string;
  readonly family?: Family;
  /** The inbound interface, "host" for the host itself, undefined when unknown. */
  readonly iface?: string;
  readonly how: SourceHow;
}

/** A host interface address, as the OS reports it. */
export interface HostAddress {
  readonly iface: string;
  readonly address: string;
  readonly cidr: string;
}

/** Stands in for an inbound interface nobody named: no rule's `-i` pattern matches it. */
export const UNNAMED_IFACE = '?';

/** An address a client would dial: not loopback, not IPv6 link-local (which needs a scope). */
export function isDialable(address: string): boolean {
  return !inCidr(address, '127.0.0.0/8') && !inCidr(address, '::1/128') && !inCidr(address, 'fe80::/10');
}

export function parseFrom(text: string): FromSpec {
  const at = text.lastIndexOf('@');
  const address = at < 0 ? text : text.slice(0, at);
  const iface = at < 0 ? undefined : text.slice(at + 1);
  if (iface !== undefined && iface !== FROM_HOST && !isInterfaceName(iface)) {
    throw new UsageError(`--from: "${iface}" is not an interface name (ADDRESS[@INTERFACE], or "host")`);
  }
  if (address === FROM_HOST) {
    if (iface !== undefined) throw new UsageError('--from: "host" takes no interface');
    return {};
  }
  if (address.includes('%') || !familyOfAddress(address)) throw new UsageError(`--from: "${address}" is not an IPv4 or IPv6 address (ADDRESS[@INTERFACE], or "host")`);
  return iface === undefined ? { address } : { address, iface };
}

export interface SourceContext {
  readonly host: readonly HostAddress[];
  readonly localAddresses: readonly string[];
  readonly bridges: readonly { readonly cidr: string; readonly iface: string }[];
}

function inferredIface(address: string, ctx: SourceContext): Pick<Source, 'iface' | 'how'> {
  if (isLocal(address, ctx.localAddresses)) return { iface: FROM_HOST, how: 'host address' };
  const bridge = ctx.bridges.find((b) => inCidr(address, b.cidr));
  if (bridge) return { iface: bridge.iface, how: 'container network' };
  const link = ctx.host.find((h) => h.iface !== 'lo' && inCidr(address, h.cidr));
  if (link) return { iface: link.iface, how: 'connected subnet' };
  return { how: 'unknown' };
}

export function resolveSource(spec: FromSpec, ctx: SourceContext): Source {
  if (spec.address === undefined) return { iface: FROM_HOST, how: 'given' };
  const family = familyOfAddress(spec.address);
  const base = { address: spec.address, ...(family ? { family } : {}) };
  if (spec.iface !== undefined) return { ...base, iface: spec.iface, how: 'given' };
  return { ...base, ...inferredIface(spec.address, ctx) };
}

/**
 * Zones as ipsets. A zone may name a set another tool keeps (`ipset: f2b-sshd`); and a
 * zone with more than a few dozen addresses of one family (a country list) becomes a set
 * of dockward's own, matched by one rule instead of one rule per CIDR. The own set's name
 * is derived from the zone's name (a hash: zone names are long, ipset names are not).
 */
import { createHash } from 'node:crypto';
import { cidrFamily } from './addresses.js';
import type { OwnSet } from './types.js';

/** More CIDRs than this, in one family, and the zone becomes a set of its own. */
export const OWN_SET_THRESHOLD = 32;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** DOCKWARD-Z-<12 base32 of sha256(zone name)>-4 (or -6): 25 characters, within ipset's 31 with room for a swap twin. */
export function ownSetName(zone: string, family: 'ipv4' | 'ipv6'): string {
  const digest = createHash('sha256').update(zone).digest();
  const tag = Array.from(digest.subarray(0, 12), (b) => BASE32[b % 32]).join('').toUpperCase();
  return `DOCKWARD-Z-${tag}-${family === 'ipv4' ? 4 : 6}`;
}

/** The zone's CIDRs per family: those of a family with more than the threshold go into an own set. */
export function splitSources(zone: string, cidrs: readonly string[]): { sets: OwnSet[]; rest: string[] } {
  const sets: OwnSet[] = [];
  const rest: string[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const mine = cidrs.filter((c) => (cidrFamily(c) === 4) === (family === 'ipv4'));
    if (mine.length > OWN_SET_THRESHOLD) sets.push({ name: ownSetName(zone, family), family, cidrs: mine });
    else rest.push(...mine);
  }
  return { sets, rest };
}

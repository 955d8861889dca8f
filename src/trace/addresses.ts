/** Address tests for the tracer, on node's BlockList so IPv6 spellings compare as addresses, not text. */
import { BlockList, isIP } from 'node:net';
import type { Family } from '../ruleset/types.js';

const LOOPBACK = { ipv4: '127.0.0.0/8', ipv6: '::1/128' } as const;
const lists = new Map<string, BlockList>();

export function familyOfAddress(address: string): Family | undefined {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** A CIDR or a bare address (as `--ctorigdst` takes it) as a one-entry BlockList, cached. */
function listOf(cidr: string): BlockList | undefined {
  let list = lists.get(cidr);
  if (list) return list;
  const [address = '', prefix] = cidr.split('/');
  const family = familyOfAddress(address);
  if (!family) return undefined;
  list = new BlockList();
  list.addSubnet(address, prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix), family);
  lists.set(cidr, list);
  return list;
}

/** True when `address` lies in `cidr`; addresses of the other family never do. */
export function inCidr(address: string, cidr: string): boolean {
  const family = familyOfAddress(address);
  const list = listOf(cidr);
  return family !== undefined && list !== undefined && list.check(address, family);
}

export function prefixLength(cidr: string): number {
  const [address = '', prefix] = cidr.split('/');
  return prefix === undefined ? (familyOfAddress(address) === 'ipv6' ? 128 : 32) : Number(prefix);
}

/** The kernel's `addrtype LOCAL`: one of the host's addresses, or loopback. */
export function isLocal(address: string, localAddresses: readonly string[]): boolean {
  const family = familyOfAddress(address);
  if (!family) return false;
  return inCidr(address, LOOPBACK[family]) || localAddresses.some((a) => inCidr(address, a));
}

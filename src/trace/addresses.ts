/**
 * Address tests for the tracer. Addresses become numbers (bigint for IPv6, so every
 * spelling of one address compares equal); parsed CIDRs are cached, because a trace
 * through thousands of container chains tests the same few blocks over and over.
 */
import { isIP } from 'node:net';
import type { Family } from '../ruleset/types.js';

const LOOPBACK: Readonly<Record<Family, string>> = { ipv4: '127.0.0.0/8', ipv6: '::1/128' };
const WIDTH: Readonly<Record<Family, bigint>> = { ipv4: 32n, ipv6: 128n };

interface Block { readonly family: Family; readonly network: bigint; readonly mask: bigint }

const blocks = new Map<string, Block | null>();
const values = new Map<string, { family: Family; value: bigint } | null>();

export function familyOfAddress(address: string): Family | undefined {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
}

/** Expects what isIP() accepted as IPv6: "::" at most once, maybe a dotted IPv4 tail. */
function ipv6Value(text: string): bigint {
  const groups = (part: string): bigint[] => (part === '' ? [] : part.split(':').flatMap((g) =>
    g.includes('.') ? [ipv4Value(g) >> 16n, ipv4Value(g) & 0xffffn] : [BigInt(parseInt(g, 16))]));
  const [head = '', tail] = text.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<bigint>(8 - left.length - right.length).fill(0n), ...right];
  return all.reduce((n, g) => (n << 16n) | g, 0n);
}

function valueOf(address: string): { family: Family; value: bigint } | null {
  const cached = values.get(address);
  if (cached !== undefined) return cached;
  const family = familyOfAddress(address);
  const parsed = family ? { family, value: family === 'ipv4' ? ipv4Value(address) : ipv6Value(address) } : null;
  values.set(address, parsed);
  return parsed;
}

/** A CIDR, or a bare address as `--ctorigdst` takes it; null when it is neither. */
function blockOf(cidr: string): Block | null {
  const cached = blocks.get(cidr);
  if (cached !== undefined) return cached;
  const [address = '', prefix] = cidr.split('/');
  const parsed = valueOf(address);
  let block: Block | null = null;
  if (parsed) {
    const width = WIDTH[parsed.family];
    const bits = prefix === undefined ? width : BigInt(Number(prefix));
    const mask = ((1n << width) - 1n) ^ ((1n << (width - bits)) - 1n);
    block = { family: parsed.family, network: parsed.value & mask, mask };
  }
  blocks.set(cidr, block);
  return block;
}

/** True when `address` lies in `cidr`; addresses of the other family never do. */
export function inCidr(address: string, cidr: string): boolean {
  const block = blockOf(cidr);
  const a = block && valueOf(address);
  return !!block && !!a && a.family === block.family && (a.value & block.mask) === block.network;
}

export function prefixLength(cidr: string): number {
  const block = blockOf(cidr);
  if (!block) return 0;
  let bits = 0;
  for (let m = block.mask; m > 0n; m >>= 1n) bits += Number(m & 1n);
  return bits;
}

/** The kernel's `addrtype LOCAL`: one of the host's addresses, or loopback. */
export function isLocal(address: string, localAddresses: readonly string[]): boolean {
  const family = familyOfAddress(address);
  if (!family) return false;
  return inCidr(address, LOOPBACK[family]) || localAddresses.some((a) => inCidr(address, a));
}

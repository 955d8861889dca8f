/**
 * Source addresses and inbound interfaces from the policy file, checked and normalised so that
 * the compiler gets one spelling per network: network address, explicit prefix, IPv6 in
 * RFC 5952 form. What passes here is safe to place in iptables-restore text.
 */
import { isIP } from 'node:net';
import { type Checked, fail, ok, quote } from './issues.js';

type Family = 4 | 6;

/** An address or CIDR → its network CIDR ("192.0.2.10" → "192.0.2.10/32"). */
export function parseCidr(text: string): Checked<string> {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseAddress(addressText);
  if (!bytes.ok) return fail(slash < 0 ? bytes.error : `bad CIDR ${quote(text)}: ${bytes.error}`);
  const bits = bytes.value.length * 8;
  const prefix = slash < 0 ? bits : parsePrefix(text.slice(slash + 1), bits);
  if (prefix === undefined) {
    return fail(`bad CIDR ${quote(text)}: the prefix length must be a number from 0 to ${bits}`);
  }
  const network = maskBytes(bytes.value, prefix);
  const cidr = `${formatAddress(network)}/${prefix}`;
  if (network.some((b, i) => b !== bytes.value[i])) return fail(`${text} has host bits set; did you mean ${cidr}?`);
  return ok(cidr);
}

/** The address family of a normalised CIDR, for callers that split rules per family. */
export function cidrFamily(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}

function parsePrefix(text: string, bits: number): number | undefined {
  if (!/^\d{1,3}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= bits ? n : undefined;
}

function parseAddress(text: string): Checked<number[]> {
  if (text.includes('%')) return fail(`${quote(text)}: zone indexes ("%") are not allowed in addresses`);
  const family = isIP(text);
  if (family === 4) return ok(text.split('.').map(Number));
  if (family === 6) return ok(ipv6Bytes(text));
  return fail(`${quote(text)} is not an IPv4 or IPv6 address`);
}

/** Expects text that isIP() accepted as IPv6: "::" at most once, maybe a dotted IPv4 tail. */
function ipv6Bytes(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const groups = (part: string | undefined): number[] => (part ? part.split(':').flatMap(ipv6Group) : []);
  const left = groups(head);
  const right = groups(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right].flatMap((g) => [g >> 8, g & 0xff]);
}

function ipv6Group(part: string): number[] {
  if (!part.includes('.')) return [parseInt(part, 16)];
  const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.min(8, Math.max(0, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

function formatAddress(bytes: readonly number[]): string {
  return bytes.length === 4 ? bytes.join('.') : formatIpv6(bytes);
}

/** RFC 5952: lower-case hex, no leading zeros, the first longest run (≥ 2) of zero groups as "::". */
function formatIpv6(bytes: readonly number[]): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12).join('.')}`; // RFC 5952 §5: IPv4-mapped keeps its dotted tail
  }
  const run = longestZeroRun(groups);
  const hex = groups.map((g) => g.toString(16));
  if (run.length < 2) return hex.join(':');
  return `${hex.slice(0, run.start).join(':')}::${hex.slice(run.start + run.length).join(':')}`;
}

function longestZeroRun(groups: readonly number[]): { start: number; length: number } {
  let best = { start: 0, length: 0 };
  let start = -1;
  for (let i = 0; i < groups.length; i++) {
    if (groups[i] !== 0) {
      start = -1;
      continue;
    }
    if (start < 0) start = i;
    if (i - start + 1 > best.length) best = { start, length: i - start + 1 };
  }
  return best;
}

/**
 * Linux interface names (dev_valid_name): 1-15 bytes, not "." or "..", no "/", ":" or
 * whitespace. Stricter than Linux on purpose: letters, digits and "-_.@" only, no leading
 * "-" or "!", because the name is written into iptables-restore text, and a "*" or ";"
 * in a policy is a mistake (a glob that would silently match nothing), not a name.
 * A trailing "+" is iptables' wildcard ("eth+" = every eth interface).
 */
export function parseInterfaceName(text: string): Checked<string> {
  if (text === '') return fail('an interface name must not be empty');
  if (text.length > 15) return fail(`interface name ${quote(text)} is longer than 15 characters`);
  if (text === '.' || text === '..') return fail(`${quote(text)} is not a valid interface name`);
  if (!/^[\x21-\x7e]+$/.test(text) || /[/:'"`\\]/.test(text)) {
    const allowed = 'may only hold printable ASCII, without whitespace, "/", ":", quotes or "\\"';
    return fail(`interface name ${quote(text)} ${allowed}`);
  }
  if (/^[-!]/.test(text)) return fail(`interface name ${quote(text)} must not start with "-" or "!"`);
  if (/[*?]/.test(text)) {
    return fail(`interface name ${quote(text)} is not a glob: iptables' wildcard is a trailing "+" (e.g. ${quote(text.replace(/[*?].*$/, '+'))})`);
  }
  if (/[^A-Za-z0-9_.@+-]/.test(text)) {
    return fail(`interface name ${quote(text)} may hold only letters, digits and "-", "_", ".", "@" (a trailing "+" is a wildcard)`);
  }
  if (text.slice(0, -1).includes('+')) {
    return fail(`interface name ${quote(text)} may use "+" only at the end, as a wildcard`);
  }
  return ok(text);
}

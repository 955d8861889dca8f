/**
 * The only way a string from Docker reaches rule text: validated here, or hashed
 * (compile/names.ts). A value that fails validation is left out and reported; it is
 * never escaped and passed on.
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Linux interface names (dev_valid_name: 1-15 bytes, no '/', ':' or whitespace, not "." or
 * ".."), narrowed to letters, digits and `_.@-`, and never starting with '-': after `-i`/`-o`
 * such a name would be read as an option (`-o -jACCEPT`). '+' is iptables' wildcard, so out too.
 */
export function isInterfaceName(name: string): boolean {
  return /^[A-Za-z0-9_.@][A-Za-z0-9_.@-]{0,14}$/.test(name) && name !== '.' && name !== '..';
}

export function isAddress(family: 'ipv4' | 'ipv6', text: string): boolean {
  return family === 'ipv4' ? isIPv4(text) : isIPv6(text);
}

/** A CIDR of the given family with a prefix in range (host bits are the compiler's concern, not a safety one). */
export function isCidr(family: 'ipv4' | 'ipv6', text: string): boolean {
  const [address = '', prefix, extra] = text.split('/');
  if (extra !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const max = family === 'ipv4' ? 32 : 128;
  return isAddress(family, address) && Number(prefix) <= max;
}

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** Host route form iptables-save prints for a single address. */
export function hostCidr(family: 'ipv4' | 'ipv6', address: string): string {
  return `${address}/${family === 'ipv4' ? 32 : 128}`;
}

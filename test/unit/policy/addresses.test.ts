import { describe, expect, it } from 'vitest';
import { parseCidr, parseInterfaceName } from '../../../src/policy/addresses.js';

const cidr = (text: string) => parseCidr(text);

describe('addresses and CIDRs', () => {
  it('gives a bare IPv4 address a /32 prefix', () => {
    expect(cidr('192.0.2.10')).toEqual({ ok: true, value: '192.0.2.10/32' });
  });

  it('keeps an IPv4 network CIDR as written', () => {
    expect(cidr('198.51.100.0/24')).toEqual({ ok: true, value: '198.51.100.0/24' });
    expect(cidr('0.0.0.0/0')).toEqual({ ok: true, value: '0.0.0.0/0' });
  });

  it('gives a bare IPv6 address a /128 prefix in canonical lower-case form', () => {
    expect(cidr('2001:DB8:0:0:0:0:0:1')).toEqual({ ok: true, value: '2001:db8::1/128' });
  });

  it('writes IPv6 networks in RFC 5952 form: first longest zero run compressed, single zero groups kept', () => {
    expect(cidr('2001:0db8:0000:0000:0000:0000:0000:0000/32')).toEqual({ ok: true, value: '2001:db8::/32' });
    expect(cidr('2001:db8:0:1:0:0:0:0/64')).toEqual({ ok: true, value: '2001:db8:0:1::/64' });
    expect(cidr('2001:db8:0:0:1:0:0:1')).toEqual({ ok: true, value: '2001:db8::1:0:0:1/128' });
    expect(cidr('2001:db8:0:1:1:1:1:1')).toEqual({ ok: true, value: '2001:db8:0:1:1:1:1:1/128' });
    expect(cidr('::/0')).toEqual({ ok: true, value: '::/0' });
    expect(cidr('::1')).toEqual({ ok: true, value: '::1/128' });
  });

  it('keeps the dotted tail of IPv4-mapped IPv6 addresses', () => {
    expect(cidr('::FFFF:198.51.100.7')).toEqual({ ok: true, value: '::ffff:198.51.100.7/128' });
    expect(cidr('::ffff:c633:6407')).toEqual({ ok: true, value: '::ffff:198.51.100.7/128' });
  });

  it('rejects a CIDR with host bits set and suggests its network address', () => {
    expect(cidr('198.51.100.7/24')).toEqual({
      ok: false,
      error: '198.51.100.7/24 has host bits set; did you mean 198.51.100.0/24?',
    });
    expect(cidr('2001:db8::1/32')).toEqual({ ok: false, error: '2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?' });
    expect(cidr('10.1.2.3/9')).toEqual({ ok: false, error: '10.1.2.3/9 has host bits set; did you mean 10.0.0.0/9?' });
  });

  it('rejects prefix lengths that are too long or not numbers', () => {
    expect(cidr('10.0.0.0/33')).toEqual({ ok: false, error: 'bad CIDR "10.0.0.0/33": the prefix length must be a number from 0 to 32' });
    expect(cidr('2001:db8::/129')).toEqual({
      ok: false,
      error: 'bad CIDR "2001:db8::/129": the prefix length must be a number from 0 to 128',
    });
    expect(cidr('10.0.0.0/')).toEqual({ ok: false, error: 'bad CIDR "10.0.0.0/": the prefix length must be a number from 0 to 32' });
    expect(cidr('10.0.0.0/8/8')).toEqual({ ok: false, error: 'bad CIDR "10.0.0.0/8/8": the prefix length must be a number from 0 to 32' });
  });

  it('rejects text that is not an address', () => {
    expect(cidr('10.0.0.300')).toEqual({ ok: false, error: '"10.0.0.300" is not an IPv4 or IPv6 address' });
    expect(cidr('10.0.0')).toEqual({ ok: false, error: '"10.0.0" is not an IPv4 or IPv6 address' });
    expect(cidr('example.com/24')).toEqual({ ok: false, error: 'bad CIDR "example.com/24": "example.com" is not an IPv4 or IPv6 address' });
  });

  it('rejects IPv6 zone indexes, which a firewall rule cannot use', () => {
    expect(cidr('fe80::1%eth0')).toEqual({ ok: false, error: '"fe80::1%eth0": zone indexes ("%") are not allowed in addresses' });
  });
});

describe('interface names', () => {
  it('accepts Linux names, dots, dashes and a trailing "+" wildcard', () => {
    for (const name of ['eth0', 'enp3s0', 'br-0123456789ab', 'eth0.100', 'eth+', '+', 'wg_0', 'abcdefghijklmno']) {
      expect(parseInterfaceName(name)).toEqual({ ok: true, value: name });
    }
  });

  it('rejects names longer than 15 characters', () => {
    expect(parseInterfaceName('abcdefghijklmnop')).toEqual({
      ok: false,
      error: 'interface name "abcdefghijklmnop" is longer than 15 characters',
    });
  });

  it('rejects empty names and the names "." and ".."', () => {
    expect(parseInterfaceName('')).toEqual({ ok: false, error: 'an interface name must not be empty' });
    expect(parseInterfaceName('.')).toEqual({ ok: false, error: '"." is not a valid interface name' });
    expect(parseInterfaceName('..')).toEqual({ ok: false, error: '".." is not a valid interface name' });
  });

  it('rejects "/", ":", whitespace, quotes, backslashes and non-ASCII characters', () => {
    const message = (n: string) =>
      `interface name ${JSON.stringify(n)} may only hold printable ASCII, without whitespace, "/", ":", quotes or "\\"`;
    for (const name of ['eth/0', 'eth0:1', 'eth 0', 'eth\t0', 'eth"0', "eth'0", 'eth`0', 'eth\\0', 'ethé', 'eth0\n']) {
      expect(parseInterfaceName(name)).toEqual({ ok: false, error: message(name) });
    }
  });

  it('rejects a leading "-" or "!", which iptables would read as an option or a negation', () => {
    expect(parseInterfaceName('-eth0')).toEqual({ ok: false, error: 'interface name "-eth0" must not start with "-" or "!"' });
    expect(parseInterfaceName('!eth0')).toEqual({ ok: false, error: 'interface name "!eth0" must not start with "-" or "!"' });
  });

  it('rejects a glob with a hint at the "+" wildcard, and characters no interface name needs', () => {
    expect(parseInterfaceName('eth*')).toEqual({ ok: false, error: 'interface name "eth*" is not a glob: iptables\' wildcard is a trailing "+" (e.g. "eth+")' });
    expect(parseInterfaceName('e?h0')).toEqual({ ok: false, error: 'interface name "e?h0" is not a glob: iptables\' wildcard is a trailing "+" (e.g. "e+")' });
    for (const name of ['eth0;rm', 'eth0|x', 'eth(0)', 'eth0,1']) {
      expect(parseInterfaceName(name)).toEqual({
        ok: false, error: `interface name ${JSON.stringify(name)} may hold only letters, digits and "-", "_", ".", "@" (a trailing "+" is a wildcard)`,
      });
    }
  });

  it('rejects "+" anywhere but at the end', () => {
    expect(parseInterfaceName('e+th')).toEqual({ ok: false, error: 'interface name "e+th" may use "+" only at the end, as a wildcard' });
    expect(parseInterfaceName('eth++')).toEqual({ ok: false, error: 'interface name "eth++" may use "+" only at the end, as a wildcard' });
  });
});

import { describe, expect, it } from 'vitest';
import { parsePortSpec } from '../../../src/policy/ports.js';

describe('port specs', () => {
  it('reads an integer as one TCP port', () => {
    expect(parsePortSpec(80)).toEqual({ ok: true, value: { protocol: 'tcp', from: 80, to: 80 } });
  });

  it('reads a bare number in a string as one TCP port', () => {
    expect(parsePortSpec('80')).toEqual({ ok: true, value: { protocol: 'tcp', from: 80, to: 80 } });
  });

  it('reads "N/udp" and "N/sctp" as that protocol', () => {
    expect(parsePortSpec('53/udp')).toEqual({ ok: true, value: { protocol: 'udp', from: 53, to: 53 } });
    expect(parsePortSpec('9899/sctp')).toEqual({ ok: true, value: { protocol: 'sctp', from: 9899, to: 9899 } });
  });

  it('reads a range with and without a protocol, ends included', () => {
    expect(parsePortSpec('8000-8100/udp')).toEqual({ ok: true, value: { protocol: 'udp', from: 8000, to: 8100 } });
    expect(parsePortSpec('8000-8100')).toEqual({ ok: true, value: { protocol: 'tcp', from: 8000, to: 8100 } });
    expect(parsePortSpec('443-443/tcp')).toEqual({ ok: true, value: { protocol: 'tcp', from: 443, to: 443 } });
  });

  it('accepts the first and last valid port numbers', () => {
    expect(parsePortSpec('1-65535/tcp')).toEqual({ ok: true, value: { protocol: 'tcp', from: 1, to: 65535 } });
  });

  it('rejects ports outside 1-65535, naming the port', () => {
    expect(parsePortSpec(70000)).toEqual({ ok: false, error: 'port 70000 out of range 1-65535' });
    expect(parsePortSpec('0/udp')).toEqual({ ok: false, error: 'port 0 out of range 1-65535' });
    expect(parsePortSpec('8000-65536/tcp')).toEqual({ ok: false, error: 'port 65536 out of range 1-65535' });
  });

  it('rejects a range whose first port is above its last as empty', () => {
    expect(parsePortSpec('9000-8000/tcp')).toEqual({ ok: false, error: 'empty range 9000-8000' });
  });

  it('rejects a protocol other than tcp, udp or sctp, including upper case', () => {
    expect(parsePortSpec('80/icmp')).toEqual({ ok: false, error: 'unknown protocol "icmp" in "80/icmp" (use tcp, udp or sctp)' });
    expect(parsePortSpec('80/TCP')).toEqual({ ok: false, error: 'unknown protocol "TCP" in "80/TCP" (use tcp, udp or sctp)' });
  });

  it('rejects malformed specs with the forms it expects', () => {
    const malformed = (s: string) =>
      `malformed port "${s}" (expected N, N/proto or A-B/proto, such as 443/tcp or 8000-8100/udp)`;
    for (const s of ['', 'http', '80/', 'tcp/80', '80-/tcp', '-80', '80 /tcp', '1.5', '80/tcp/udp']) {
      expect(parsePortSpec(s)).toEqual({ ok: false, error: malformed(s) });
    }
  });

  it('rejects a fractional number and values that are neither numbers nor strings', () => {
    expect(parsePortSpec(80.5)).toEqual({ ok: false, error: 'port 80.5 is not a whole number' });
    expect(parsePortSpec(true)).toEqual({ ok: false, error: 'a port must be a number or a string such as "443/tcp" (got true)' });
    expect(parsePortSpec(null)).toEqual({
      ok: false,
      error: 'a port must be a number or a string such as "443/tcp" (got an empty value)',
    });
  });
});

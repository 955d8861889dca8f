/**
 * Port specs as the policy file writes them: 443 or "443" (TCP), "53/udp", "8000-8100/tcp".
 */
import type { Protocol } from '../inventory/types.js';
import { type Checked, describeValue, fail, ok, quote } from './issues.js';
import type { PortRange } from './types.js';

export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];

const EXPECTED_FORMS = 'expected N, N/proto or A-B/proto, such as 443/tcp or 8000-8100/udp';
const SPEC = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z0-9]+))?$/;

/** A port spec from the file → an inclusive range of one protocol; a bare port means TCP. */
export function parsePortSpec(value: unknown): Checked<PortRange> {
  if (typeof value === 'number') return portRange('tcp', String(value), undefined);
  if (typeof value !== 'string') {
    return fail(`a port must be a number or a string such as "443/tcp" (got ${describeValue(value)})`);
  }
  const m = SPEC.exec(value);
  if (!m) return fail(`malformed port ${quote(value)} (${EXPECTED_FORMS})`);
  const protocol = m[3] ?? 'tcp';
  if (!isProtocol(protocol)) {
    return fail(`unknown protocol ${quote(protocol)} in ${quote(value)} (use tcp, udp or sctp)`);
  }
  return portRange(protocol, m[1] ?? '', m[2]);
}

function isProtocol(text: string): text is Protocol {
  return (PROTOCOLS as readonly string[]).includes(text);
}

function portRange(protocol: Protocol, first: string, last: string | undefined): Checked<PortRange> {
  const from = portNumber(first);
  if (!from.ok) return from;
  const to = last === undefined ? from : portNumber(last);
  if (!to.ok) return to;
  if (from.value > to.value) return fail(`empty range ${from.value}-${to.value}`);
  return ok({ protocol, from: from.value, to: to.value });
}

function portNumber(text: string): Checked<number> {
  const n = Number(text);
  if (!Number.isInteger(n)) return fail(`port ${text} is not a whole number`);
  if (n < 1 || n > 65535) return fail(`port ${text} out of range 1-65535`);
  return ok(n);
}

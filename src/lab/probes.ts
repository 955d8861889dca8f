/**
 * Traffic probes, run inside a namespace by a Runner. "Reachable" always means the
 * service answered (an HTTP body, a UDP echo): dockerd keeps a listening socket on each
 * published host port even with its rules off, so a bare TCP connect proves nothing.
 * Timeouts are short (1 s by default) because most probes in firewall tests expect silence.
 */
import type { ExecInOptions, ExecResult } from './netns.js';

/** Runs a command somewhere (a namespace, a container's network namespace). */
export type Runner = (cmd: string, args: readonly string[], opts?: ExecInOptions) => Promise<ExecResult>;

/** The system interpreter, not whatever `python3` a user's PATH finds first. */
export const PYTHON = '/usr/bin/python3';

export const DEFAULT_TIMEOUT_MS = 1000;

export interface ProbeOptions {
  /** Source address to send from (must be an address of the probing namespace). */
  source?: string;
  timeoutMs?: number;
}

export interface UdpProbeOptions extends ProbeOptions {
  payload?: string;
  /**
   * Source port to send from (default: one the kernel picks). A fixed one keeps successive
   * probes in one conntrack flow, as a long-lived UDP client's datagrams are.
   */
  sourcePort?: number;
}

/**
 * What a TCP connect ran into: 'reset' (RST or ICMP port-unreachable: REJECT),
 * 'timeout' (nothing came back: DROP), 'unreachable' (another ICMP error, e.g. REJECT
 * with icmp-host-prohibited), 'connected' (a handshake: the container, or dockerd's
 * idle listener on a published port).
 */
export type TcpOutcome = 'reset' | 'timeout' | 'unreachable' | 'connected';

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Slack for process start-up on top of the probe's own timeout. */
const SPAWN_SLACK_MS = 5000;

/** GET `url`; the body on a 2xx answer, null on anything else. */
export async function httpProbe(run: Runner, url: string, opts: ProbeOptions = {}): Promise<string | null> {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const args = ['-s', '-f', '-g', '--noproxy', '*', '-m', seconds(ms)];
  // host! makes curl treat the value as an address, never as an interface name.
  if (opts.source) args.push('--interface', `host!${opts.source}`);
  args.push('--', url);
  const r = await run('curl', args, { reject: false, timeoutMs: ms + SPAWN_SLACK_MS });
  return r.exitCode === 0 ? r.stdout : null;
}

const UDP_CLIENT = `
import socket, sys
host, port, source, timeout, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
sport = int(sys.argv[6]) if len(sys.argv) > 6 else 0
fam, _, _, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
s = socket.socket(fam, socket.SOCK_DGRAM)
if source or sport:
    s.bind((source or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), sport))
s.settimeout(timeout)
s.connect(addr)
s.send(payload.encode())
try:
    sys.stdout.write(s.recv(65535).decode(errors="replace"))
except OSError:  # timeout, or ICMP port unreachable on the connected socket
    sys.exit(1)
`;

/** Sends one datagram; the reply's text, or null if none came within the timeout. */
export async function udpProbe(
  run: Runner,
  host: string,
  port: number,
  opts: UdpProbeOptions = {},
): Promise<string | null> {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const args = ['-c', UDP_CLIENT, host, String(port), opts.source ?? '', seconds(ms), opts.payload ?? 'ping'];
  if (opts.sourcePort !== undefined) args.push(String(opts.sourcePort));
  const r = await run(PYTHON, args, { reject: false, timeoutMs: ms + SPAWN_SLACK_MS });
  return r.exitCode === 0 ? r.stdout : null;
}

const TCP_CLIENT = `
import socket, sys
host, port, source, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
fam, _, _, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
s = socket.socket(fam, socket.SOCK_STREAM)
if source:
    # Through getaddrinfo, so a link-local source may name its interface ("fe80::2%eth0").
    s.bind(socket.getaddrinfo(source, 0, fam, socket.SOCK_STREAM)[0][4])
s.settimeout(timeout)
try:
    s.connect(addr)
    print("connected")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("reset")
except OSError:
    print("unreachable")
`;

/** Tells REJECT (reset) from DROP (timeout) for a TCP port. */
export async function tcpProbe(run: Runner, host: string, port: number, opts: ProbeOptions = {}): Promise<TcpOutcome> {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const args = ['-c', TCP_CLIENT, host, String(port), opts.source ?? '', seconds(ms)];
  const r = await run(PYTHON, args, { timeoutMs: ms + SPAWN_SLACK_MS });
  const word = r.stdout.trim();
  if (word === 'reset' || word === 'timeout' || word === 'unreachable' || word === 'connected') return word;
  throw new Error(`tcp probe printed ${JSON.stringify(r.stdout)}: ${r.stderr}`);
}

const SCTP_CLIENT = `
import socket, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fam, _, _, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
s = socket.socket(fam, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
s.settimeout(timeout)
try:
    s.connect(addr)
    sys.stdout.write(s.recv(65535).decode(errors="replace"))
except OSError:
    sys.exit(1)
`;

/** Opens an SCTP association and reads what the server says first; null if nothing did in time. */
export async function sctpProbe(run: Runner, host: string, port: number, opts: ProbeOptions = {}): Promise<string | null> {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = await run(PYTHON, ['-c', SCTP_CLIENT, host, String(port), seconds(ms)], { reject: false, timeoutMs: ms + SPAWN_SLACK_MS });
  return r.exitCode === 0 ? r.stdout : null;
}

/**
 * `docker run` argument vectors and the in-container programs of the lab's services.
 * Every service answers with its container's name, so a probe knows who answered.
 */
import { IMAGE } from './image.js';
import { PYTHON } from './probes.js';

export interface ContainerOptions {
  /** `--network`; Docker's default bridge when omitted. */
  network?: string;
  /** `-p` specs, as on the docker command line: "8080:80", "127.0.0.1:53:5353/udp". */
  publish?: readonly string[];
  labels?: Readonly<Record<string, string>>;
  /** `--restart` policy, e.g. "always". */
  restart?: string;
  env?: Readonly<Record<string, string>>;
  /** More `docker run` flags, placed before the image (e.g. ["--ip", "172.18.0.9"]). */
  runArgs?: readonly string[];
  /** Return only once the service answers inside the container (default true). */
  wait?: boolean;
}

export interface ServiceOptions extends ContainerOptions {
  /** Ports to serve on; HTTP always serves 80 as well, UDP echo defaults to 5353. */
  ports?: readonly number[];
}

export interface PlainOptions extends ContainerOptions {
  cmd: readonly string[];
  /** Bind-mount the host's /usr read-only, for /usr/bin/python3 and friends (default true). */
  mountUsr?: boolean;
}

/** Busybox httpd per port; the trap makes `docker stop` quick (pid 1 ignores SIGTERM otherwise). */
const HTTPD_SCRIPT = `trap 'exit 0' TERM INT
printf %s "$DWLAB_NAME" > /www/index.html
for p in "$@"; do httpd -f -p "$p" -h /www & done
wait`;

/** Echoes each datagram back as "NAME:PAYLOAD"; dual-stack where the container has IPv6. */
const UDP_ECHO = `
import os, selectors, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
name = os.environ.get("DWLAB_NAME", "").encode()
sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", int(p)))
    except OSError:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", int(p)))
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        data, addr = key.fileobj.recvfrom(65535)
        key.fileobj.sendto(name + b":" + data, addr)
`;

export const DEFAULT_UDP_PORT = 5353;

function commonArgs(name: string, o: ContainerOptions, mountUsr: boolean): string[] {
  // A short stop timeout keeps dockerd restarts and teardown fast.
  const args = ['run', '-d', '--name', name, '--stop-timeout', '1', '-e', `DWLAB_NAME=${name}`];
  if (o.network) args.push('--network', o.network);
  for (const p of o.publish ?? []) args.push('-p', p);
  for (const [k, v] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${v}`);
  if (o.restart) args.push('--restart', o.restart);
  for (const [k, v] of Object.entries(o.env ?? {})) args.push('-e', `${k}=${v}`);
  if (mountUsr) args.push('-v', '/usr:/usr:ro');
  args.push(...(o.runArgs ?? []));
  return args;
}

export function httpPorts(o: ServiceOptions): number[] {
  return [...new Set([80, ...(o.ports ?? [])])];
}

export function udpPorts(o: ServiceOptions): number[] {
  return o.ports?.length ? [...new Set(o.ports)] : [DEFAULT_UDP_PORT];
}

export function httpRunArgs(name: string, o: ServiceOptions): string[] {
  return [...commonArgs(name, o, false), IMAGE, 'sh', '-c', HTTPD_SCRIPT, 'sh', ...httpPorts(o).map(String)];
}

export function udpEchoRunArgs(name: string, o: ServiceOptions): string[] {
  return [...commonArgs(name, o, true), IMAGE, PYTHON, '-u', '-c', UDP_ECHO, ...udpPorts(o).map(String)];
}

export function plainRunArgs(name: string, o: PlainOptions): string[] {
  if (o.cmd.length === 0) throw new Error('runPlain needs a command');
  return [...commonArgs(name, o, o.mountUsr !== false), IMAGE, ...o.cmd];
}

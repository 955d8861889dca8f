/**
 * The parity scenario as data: networks of each kind, containers with each kind of
 * publishing, and who probes. The same scenario is set up in a lab with Docker's own
 * rules and in a lab with dockward, so the two reachability matrices can be compared.
 */
import { LAB_ADDR, type Lab } from '../../../src/lab/index.js';

export type Family = 4 | 6;
export type Proto = 'tcp' | 'udp';

/** Daemon flags both labs share: the default bridge is dual-stack. */
export const DAEMON_IPV6 = ['--ipv6', '--fixed-cidr-v6', 'fd00:d0c::/64'];

export interface NetworkSpec {
  readonly name: string;
  readonly create: readonly string[];
  readonly ipv6: boolean;
}

/** Created one after another, so Docker gives them the same subnets in both labs. */
export const NETWORKS: readonly NetworkSpec[] = [
  { name: 'bridge', create: [], ipv6: true }, // Docker's default bridge, docker0
  { name: 'dualnet', create: ['--ipv6', '--subnet', 'fd00:a::/64'], ipv6: true },
  { name: 'custom', create: ['-o', 'com.docker.network.bridge.name=dwcustom'], ipv6: false },
  { name: 'internal', create: ['--internal'], ipv6: false },
  { name: 'noicc', create: ['-o', 'com.docker.network.bridge.enable_icc=false'], ipv6: false },
  { name: 'nomasq', create: ['-o', 'com.docker.network.bridge.enable_ip_masquerade=false'], ipv6: false },
];

export interface ContainerSpec {
  readonly name: string;
  readonly network: string;
  /** `-p` specs exactly as on the docker command line. */
  readonly publish?: readonly string[];
  /** HTTP serves 80 plus these; a UDP echo serves these only. */
  readonly ports?: readonly number[];
  readonly udp?: boolean;
  /** Also probes from its network namespace. */
  readonly client?: boolean;
}

export const CONTAINERS: readonly ContainerSpec[] = [
  { name: 'web', network: 'bridge', publish: ['8080:80'] }, // dual-stack: inspect lists 0.0.0.0 and ::
  { name: 'quiet', network: 'bridge', client: true },
  { name: 'local', network: 'custom', publish: ['127.0.0.1:8081:80'] },
  { name: 'onehost', network: 'custom', publish: [`${LAB_ADDR.external.host}:8082:80`], client: true },
  { name: 'icc1', network: 'noicc', publish: ['8083:80'] },
  { name: 'icc2', network: 'noicc', client: true },
  { name: 'dual', network: 'dualnet', publish: ['8085:80'], client: true },
  { name: 'echo', network: 'dualnet', publish: ['5353:5353/udp'], udp: true, ports: [5353] },
  // Docker accepts -p on an internal network and maps nothing: both sides must agree.
  { name: 'intweb', network: 'internal', publish: ['8086:80'] },
  { name: 'intcli', network: 'internal', client: true },
  { name: 'range', network: 'nomasq', publish: ['8090-8092:8090-8092'], ports: [8090, 8091, 8092], client: true },
];

export interface HostAddr {
  readonly addr: string;
  readonly family: Family;
  /** Only the host itself (and the crafted neighbour) can address loopback. */
  readonly loopback: boolean;
}

/** Every address of the Docker host a client may dial a published port on. */
export const HOST_ADDRS: readonly HostAddr[] = [
  { addr: LAB_ADDR.external.host, family: 4, loopback: false },
  { addr: LAB_ADDR.internal.host, family: 4, loopback: false },
  { addr: '172.17.0.1', family: 4, loopback: false }, // docker0, "through the bridge"
  { addr: '127.0.0.1', family: 4, loopback: true },
  { addr: LAB_ADDR.external.host6, family: 6, loopback: false },
  { addr: LAB_ADDR.internal.host6, family: 6, loopback: false },
  { addr: 'fd00:d0c::1', family: 6, loopback: false },
  { addr: '::1', family: 6, loopback: true },
];

/** Where container traffic to the outside goes: an HTTP server in the external namespace that answers with the source it saw. */
export const EGRESS = { port: 8000, 4: LAB_ADDR.external.client, 6: LAB_ADDR.external.client6 } as const;

export type SourceKind = 'client' | 'neighbour' | 'host' | 'container';

export interface Source {
  readonly label: string;
  readonly kind: SourceKind;
  /** The lab namespace it probes from; containers probe from their own. */
  readonly ns?: 'external' | 'internal' | 'host';
  readonly network?: string;
}

export const SOURCES: readonly Source[] = [
  { label: 'external', kind: 'client', ns: 'external' },
  { label: 'internal', kind: 'client', ns: 'internal' },
  { label: 'host', kind: 'host', ns: 'host' },
  // The external namespace, made to send packets for 127.0.0.1 to the host (see neighbourToLoopback).
  { label: 'neighbour→127.0.0.1', kind: 'neighbour', ns: 'external' },
  ...CONTAINERS.filter((c) => c.client).map((c) => ({ label: c.name, kind: 'container' as const, network: c.network })),
];

export interface Mapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly proto: Proto;
}

/** `[ipv4:]host[-end]:container[-end][/proto]` → one mapping per port (the host IP does not matter here: every host address is probed). */
export function mappings(spec: string): Mapping[] {
  const [ports = '', proto = 'tcp'] = spec.split('/');
  const parts = ports.split(':');
  const range = (s: string): number[] => {
    const [a, b = a] = s.split('-').map(Number) as [number, number?];
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  };
  const host = range(parts.at(-2)!);
  const inner = range(parts.at(-1)!);
  return host.map((hostPort, i) => ({ hostPort, containerPort: inner[i]!, proto: proto as Proto }));
}

export function servedPorts(c: ContainerSpec): { port: number; proto: Proto }[] {
  const ports = c.udp ? (c.ports ?? []) : [80, ...(c.ports ?? [])];
  return ports.map((port) => ({ port, proto: c.udp ? 'udp' : 'tcp' }));
}

export function networkOf(c: ContainerSpec): NetworkSpec {
  return NETWORKS.find((n) => n.name === c.network)!;
}

/** What a lab knows after set-up: each container's addresses and the pid whose network namespace it probes from. */
export interface Placed {
  readonly addr: Record<string, Partial<Record<Family, string>>>;
  readonly pid: Record<string, number>;
}

/** Creates the networks and containers of the scenario in `lab`. */
export async function setUp(lab: Lab): Promise<Placed> {
  for (const n of NETWORKS) if (n.create.length > 0) await lab.docker(['network', 'create', ...n.create, n.name]);
  await Promise.all(CONTAINERS.map((c) => {
    const opts = { network: c.network, publish: c.publish ?? [], ...(c.ports ? { ports: c.ports } : {}) };
    return c.udp ? lab.runUdpEcho(c.name, opts) : lab.runHttp(c.name, opts);
  }));
  // The host addresses above assume Docker's usual docker0 addresses.
  const docker0 = (await lab.inHost('ip', ['-br', 'addr', 'show', 'docker0'])).stdout;
  for (const a of ['172.17.0.1/16', 'fd00:d0c::1/64']) {
    if (!docker0.includes(a)) throw new Error(`docker0 lacks ${a}: ${docker0}`);
  }
  const addr: Placed['addr'] = {};
  const pid: Placed['pid'] = {};
  await Promise.all(CONTAINERS.map(async (c) => {
    addr[c.name] = { 4: await lab.containerIp(c.name, c.network, 'ipv4') };
    if (networkOf(c).ipv6) addr[c.name]![6] = await lab.containerIp(c.name, c.network, 'ipv6');
    pid[c.name] = Number(await lab.docker(['inspect', '-f', '{{.State.Pid}}', c.name]));
  }));
  return { addr, pid };
}

/**
 * Makes the external namespace send packets for 127.0.0.1 to the host, as a hostile
 * neighbour on the same link would: a kernel never sends to 127/8 off-link unless its own
 * 127.0.0.1 is gone (which also lifts the martian check on the replies) and
 * route_localnet is on. Inside the client namespace only.
 */
export async function neighbourToLoopback(lab: Lab): Promise<void> {
  await lab.exec('external', 'ip', ['addr', 'del', '127.0.0.1/8', 'dev', 'lo']);
  await lab.exec('external', 'ip', ['route', 'add', '127.0.0.1/32', 'via', LAB_ADDR.external.host]);
  await lab.exec('external', 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=1']);
}

/**
 * Positive control for the neighbour: an nft table of its own in the host namespace
 * counts packets for 127/8 arriving on ext0, ahead of every iptables table (priority
 * -450 < raw), so it proves the crafted packets reach the host whatever the rules do.
 */
export const LOOPBACK_COUNTER = {
  async install(lab: Lab): Promise<void> {
    const ruleset = `table inet dwparity {
  chain pre {
    type filter hook prerouting priority -450; policy accept;
    iifname "${LAB_ADDR.external.hostIf}" ip daddr 127.0.0.0/8 counter
  }
}
`;
    await lab.inHost('nft', ['-f', '-'], { input: ruleset });
  },
  async packets(lab: Lab): Promise<number> {
    const out = (await lab.inHost('nft', ['list', 'table', 'inet', 'dwparity'])).stdout;
    return Number(/counter packets (\d+)/.exec(out)?.[1] ?? NaN);
  },
};

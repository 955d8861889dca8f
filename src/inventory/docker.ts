/**
 * Docker API → Inventory. The only file that talks to Docker. Every call has a timeout:
 * a frozen dockerd must make dockward wait and keep its rules, never hang or guess.
 */
import Docker from 'dockerode';
import type { Container, Endpoint, Inventory, Network, PortBinding, Protocol } from './types.js';

export interface DockerOptions {
  /** unix:///path, /path, tcp://host:port (cli/context.ts picks it: --docker-host, DOCKER_HOST, the default). */
  readonly host: string;
  readonly timeoutMs?: number;
}

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
/** The forms a Docker host may take, as error messages name them. */
export const DOCKER_HOST_FORMS = 'unix:///path/to/socket or tcp://host:port';

export type DockerEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

/** Docker's own forms: unix:///path, a bare socket path, or tcp://host[:port]; undefined for anything else. */
export function dockerEndpoint(value: string): DockerEndpoint | undefined {
  if (/^unix:\/\/\/./.test(value)) return { socketPath: value.slice('unix://'.length) };
  if (value.startsWith('/')) return { socketPath: value };
  const tcp = /^tcp:\/\/([^/\s:]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?\/?$/.exec(value);
  if (!tcp) return undefined;
  const port = Number(tcp[2] ?? 2375);
  return port >= 1 && port <= 65535 ? { host: tcp[1]!.replace(/^\[|\]$/g, ''), port } : undefined;
}

export function dockerClient(options: DockerOptions): Docker {
  const timeout = options.timeoutMs ?? 5000;
  const endpoint = dockerEndpoint(options.host);
  if (!endpoint) throw new Error(`Docker host must be ${DOCKER_HOST_FORMS} (got "${options.host}")`);
  if ('socketPath' in endpoint) return new Docker({ socketPath: endpoint.socketPath, timeout });
  return new Docker({ host: endpoint.host, port: endpoint.port, protocol: 'http', timeout });
}

type NetworkInfo = Awaited<ReturnType<Docker['listNetworks']>>[number];
type ContainerInfo = Awaited<ReturnType<Docker.Container['inspect']>>;

function bridgeName(n: NetworkInfo): string {
  const named = n.Options?.['com.docker.network.bridge.name'];
  if (named) return named;
  return n.Name === 'bridge' ? 'docker0' : `br-${n.Id.slice(0, 12)}`;
}

export function toNetwork(n: NetworkInfo): Network {
  const subnets = (n.IPAM?.Config ?? []).flatMap((c) => (c.Subnet
    ? [{ family: c.Subnet.includes(':') ? 'ipv6' as const : 'ipv4' as const, cidr: c.Subnet, ...(c.Gateway ? { gateway: c.Gateway } : {}) }]
    : []));
  return {
    id: n.Id, name: n.Name, bridge: bridgeName(n),
    isDefault: n.Options?.['com.docker.network.bridge.default_bridge'] === 'true' || n.Name === 'bridge',
    internal: n.Internal === true, subnets, options: n.Options ?? {}, labels: n.Labels ?? {},
  };
}

function expandPorts(text: string): number[] {
  const [from = '', to = from] = text.split('-');
  const a = Number(from);
  const b = Number(to);
  if (!Number.isInteger(a) || !Number.isInteger(b) || b < a || b - a > 65535) return [];
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** NetworkSettings.Ports: {"80/tcp": [{HostIp, HostPort}], ...}; container or host ranges are expanded. */
export function toBindings(ports: Record<string, { HostIp: string; HostPort: string }[] | null> | undefined): PortBinding[] {
  const out: PortBinding[] = [];
  for (const [key, hosts] of Object.entries(ports ?? {})) {
    const [portText = '', proto = 'tcp'] = key.split('/');
    if (!['tcp', 'udp', 'sctp'].includes(proto)) continue;
    const containerPorts = expandPorts(portText);
    for (const h of hosts ?? []) {
      const hostPorts = expandPorts(h.HostPort);
      containerPorts.forEach((containerPort, i) => {
        const hostPort = hostPorts.length === containerPorts.length ? hostPorts[i] : hostPorts[0];
        if (hostPort !== undefined) out.push({ protocol: proto as Protocol, containerPort, hostIp: h.HostIp ?? '', hostPort });
      });
    }
  }
  return out;
}

function toEndpoints(info: ContainerInfo): Endpoint[] {
  return Object.entries(info.NetworkSettings?.Networks ?? {}).map(([name, e]) => ({
    networkId: e.NetworkID, networkName: name,
    ...(e.IPAddress ? { ipv4: e.IPAddress } : {}), ...(e.GlobalIPv6Address ? { ipv6: e.GlobalIPv6Address } : {}),
  }));
}

/** HostConfig.Links entries are "/child:/parent/alias": the names this container links to. */
function linksOf(info: ContainerInfo): string[] {
  const links = (info.HostConfig as { Links?: string[] | null } | undefined)?.Links ?? [];
  return links.map((l) => l.split(':')[0]?.replace(/^\//, '') ?? '').filter(Boolean);
}

export function toContainer(info: ContainerInfo, imageLabels?: Record<string, string>): Container {
  const links = linksOf(info);
  const exposed = Object.keys(info.Config?.ExposedPorts ?? {});
  const labels = info.Config?.Labels ?? {};
  const project = labels['com.docker.compose.project'];
  const service = labels['com.docker.compose.service'];
  return {
    id: info.Id, name: info.Name.replace(/^\//, ''), image: info.Config?.Image ?? '', labels,
    ...(imageLabels ? { imageLabels } : {}),
    ...(project !== undefined && service !== undefined ? { compose: { project, service } } : {}),
    networkMode: info.HostConfig?.NetworkMode ?? 'default',
    endpoints: toEndpoints(info),
    ports: toBindings(info.NetworkSettings?.Ports as Parameters<typeof toBindings>[0]),
    ...(links.length > 0 ? { links } : {}),
    ...(exposed.length > 0 ? { exposedPorts: exposed } : {}),
  };
}

/**
 * The labels of a container's image (by id: Docker keeps an image while a container uses
 * it), to tell the container's own labels from inherited ones. Any error is Docker failing
 * and propagates (the rules in force stay): guessing "no labels" would count labels the
 * image author set as the user's.
 */
async function imageLabelsOf(docker: Docker, image: string, cache: Map<string, Record<string, string> | undefined>) {
  if (!cache.has(image)) {
    const info = await docker.getImage(image).inspect();
    cache.set(image, info?.Config?.Labels ?? undefined);
  }
  return cache.get(image);
}

/** A container that exited between list and inspect is simply gone; any other error is Docker failing. */
function goneIs404(error: unknown): undefined {
  if ((error as { statusCode?: number }).statusCode === 404) return undefined;
  throw error;
}

/**
 * Reads the inventory, inspecting only what may have changed: a container is inspected
 * when it is new to the reader or an event named it since (a restart can change its
 * addresses, a network connect its endpoints); everything else comes from the cache.
 * forget('all') — at every full resync — makes the next read inspect everything again.
 * Rejects when Docker does not answer: never "no containers".
 */
export class InventoryReader {
  private readonly containers = new Map<string, Container>();
  private readonly images = new Map<string, Record<string, string> | undefined>();

  constructor(private readonly docker: Docker) {}

  forget(ids: Iterable<string> | 'all'): void {
    if (ids === 'all') {
      this.containers.clear();
      this.images.clear();
    } else {
      for (const id of ids) this.containers.delete(id);
    }
  }

  async read(): Promise<Inventory> {
    const [networks, list] = await Promise.all([
      this.docker.listNetworks({ filters: { driver: ['bridge'] } }),
      this.docker.listContainers({ filters: { status: ['running'] } }),
    ]);
    const running = new Set(list.map((c) => c.Id));
    for (const id of this.containers.keys()) if (!running.has(id)) this.containers.delete(id);
    await Promise.all(list.filter((c) => !this.containers.has(c.Id)).map((c) => this.inspect(c.Id)));
    const containers = [...this.containers.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    return { networks: networks.map(toNetwork).sort((a, b) => (a.id < b.id ? -1 : 1)), containers };
  }

  private async inspect(id: string): Promise<void> {
    const info = await this.docker.getContainer(id).inspect().catch(goneIs404);
    if (!info || info.State?.Running === false) return;
    this.containers.set(id, toContainer(info, await imageLabelsOf(this.docker, info.Image, this.images)));
  }
}

/** One full read, nothing cached: what `dockward inventory` and `apply` use. */
export function readInventory(docker: Docker): Promise<Inventory> {
  return new InventoryReader(docker).read();
}

/**
 * Docker API → Inventory. The only file that talks to Docker. Every call has a timeout:
 * a frozen dockerd must make dockward wait and keep its rules, never hang or guess.
 */
import Docker from 'dockerode';
import type { Container, Endpoint, Inventory, Network, PortBinding, Protocol } from './types.js';
import { startedOn } from './network-mode.js';

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
 * The bindings a container asked for (HostConfig.PortBindings, read before its start), when
 * each host port is fixed: no ephemeral port ("" or 0) and no host range Docker picks one
 * port from. Otherwise only the start tells which ports are published: undefined.
 */
export function requestedBindings(requested: Record<string, { HostIp: string; HostPort: string }[] | null> | undefined): PortBinding[] | undefined {
  for (const [key, hosts] of Object.entries(requested ?? {})) {
    const count = expandPorts(key.split('/')[0] ?? '').length;
    for (const h of hosts ?? []) {
      const ports = expandPorts(h.HostPort);
      if (ports.length !== count || ports.includes(0)) return undefined;
    }
  }
  return toBindings(requested);
}

/**
 * A container between its create and its start, as far as it is known before the start.
 * Docker holds a container's lock for the whole of its start (about a quarter of a second
 * on dockerd 20.10, measured in the lab), so an inspect sent when its network connect is
 * announced answers only once the start is over — while Docker's own rules would have gone
 * in at that connect. So its configuration is read at create, and at each connect its
 * address on that network (a network inspect does not wait for the container).
 */
interface Starting {
  /** The container as its start will show it, but for its endpoints; undefined while the create's inspect is under way, or when it cannot be published early. */
  config?: Container;
  /** The create's inspect, while under way. */
  read?: Promise<void>;
  readonly networks: Set<string>;
  /** Its create or its last connect: a start that never comes is forgotten some time after. */
  touched: number;
  /**
   * Set by each read: whether the read held it exactly as its start will show it (no IPv6
   * address on the network it publishes through, where Docker may add bindings on ::).
   */
  exact?: boolean;
}

/** Containers created but not started are few; a bound keeps a host of `docker create`s from piling up. */
const STARTING_MAX = 10_000;
/** A start that never came (a create, a connect, then a failure Docker announced no further): forgotten. */
const STARTING_MS = 60_000;

/** Reads of the networks a read asks about, one inspect per network; a network gone is undefined, any other failure rejects the read. */
function networkViews(docker: Docker): (id: string) => Promise<NetworkView | undefined> {
  const views = new Map<string, Promise<NetworkView | undefined>>();
  return (id) => {
    if (!views.has(id)) views.set(id, (docker.getNetwork(id).inspect() as Promise<NetworkInspect>).then(toNetworkView, goneIs404));
    return views.get(id)!;
  };
}

/**
 * Reads the inventory, inspecting only what may have changed: a container is inspected
 * when it is new to the reader or an event named it since (a restart can change its
 * addresses, a network connect its endpoints); everything else comes from the cache.
 * forget('all') — at every full resync — makes the next read inspect everything again.
 * Rejects when Docker does not answer: never "no containers".
 *
 * A container that connected to its network before its start (`docker run`) is in the
 * inventory from that moment, from its create's configuration and its address (Starting):
 * its rules can be in force before its start returns, as Docker's own would be. Only when
 * every host port it asked for is fixed, and on the network it publishes through; the
 * inspect after its start is what holds from then on.
 */
export class InventoryReader {
  private readonly containers = new Map<string, Container>();
  private readonly images = new Map<string, Record<string, string> | undefined>();
  private readonly starting = new Map<string, Starting>();

  constructor(private readonly docker: Docker, private readonly now: () => number = Date.now) {}

  /** A container was created: its configuration is read now, while Docker does not hold it. */
  created(id: string): void {
    if (this.starting.size >= STARTING_MAX) this.starting.clear();
    const entry: Starting = { networks: new Set(), touched: this.now() };
    this.starting.set(id, entry);
    entry.read = this.docker.getContainer(id).inspect()
      .then(async (info) => {
        // -P publishes the image's ports on host ports Docker picks at the start.
        const picks = info.HostConfig?.PublishAllPorts === true;
        const ports = info.State?.Status === 'created' && !picks ? requestedBindings(info.HostConfig?.PortBindings as Parameters<typeof toBindings>[0]) : undefined;
        if (!ports || ports.length === 0) return;
        entry.config = { ...toContainer(info, await imageLabelsOf(this.docker, info.Image, this.images)), endpoints: [], ports };
      })
      // Early publication is a head start, not a duty: the start's inspect decides.
      .catch(() => undefined)
      .finally(() => { entry.read = undefined; });
  }

  /**
   * A created container joined a network before its start: true when its rules can go in
   * now — or once its create's inspect, still under way (the two events often come in one
   * read of the stream), has answered.
   */
  connected(id: string, networkId: string): boolean | Promise<boolean> {
    const entry = this.starting.get(id);
    if (!entry) return false;
    entry.networks.add(networkId);
    entry.touched = this.now();
    if (entry.config) return true;
    return entry.read?.then(() => entry.config !== undefined && this.starting.get(id) === entry) ?? false;
  }

  /**
   * Its start: true when the last read held the container exactly as its start shows it,
   * so the rules in force need nothing from that start. Reads go on holding it until one
   * lists it running (a read under way may have listed the containers before the start).
   */
  started(id: string): boolean {
    return this.starting.get(id)?.exact === true;
  }

  /** Its end, a rename, a disconnect before its start: dropped. True when a read held it (its early rules must go). */
  dropped(id: string): boolean {
    const held = this.starting.get(id)?.exact !== undefined;
    this.starting.delete(id);
    return held;
  }

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
    const early = await this.startingContainers(running);
    const containers = [...this.containers.values(), ...early].sort((a, b) => (a.id < b.id ? -1 : 1));
    return { networks: networks.map(toNetwork).sort((a, b) => (a.id < b.id ? -1 : 1)), containers };
  }

  /**
   * Containers connected but not started yet, each with its addresses from its networks'
   * inspects (one per network, however many containers wait on it). One that is running
   * already is inspected as any other; one not on the network it publishes through yet
   * waits for that connect.
   */
  private async startingContainers(running: ReadonlySet<string>): Promise<Container[]> {
    const view = networkViews(this.docker);
    const out: Container[] = [];
    for (const [id, entry] of [...this.starting]) {
      if (running.has(id) || this.now() - entry.touched > STARTING_MS) this.starting.delete(id);
      else if (entry.config && entry.networks.size > 0) {
        const early = await this.earlyView(id, entry.config, entry.networks, view);
        // Dropped meanwhile (a failed start): left out.
        if (this.starting.get(id) !== entry) continue;
        entry.exact = early?.exact ?? false;
        if (early) out.push(early.container);
      }
    }
    return out;
  }

  /** The container with its addresses, if it is on the network it publishes through; exact: nothing more to come at its start. */
  private async earlyView(id: string, config: Container, networks: ReadonlySet<string>, view: (id: string) => Promise<NetworkView | undefined>) {
    const views = (await Promise.all([...networks].map(view))).filter((n): n is NetworkView => n !== undefined);
    const through = views.find((n) => startedOn(config, n));
    const publishing = through && endpointIn(through, id)[0];
    if (!through || !publishing) return undefined;
    const container = { ...config, endpoints: views.flatMap((n) => endpointIn(n, id)), ports: boundTo(config.ports, through) };
    return { container, exact: publishing.ipv6 === undefined };
  }

  private async inspect(id: string): Promise<void> {
    const info = await this.docker.getContainer(id).inspect().catch(goneIs404);
    if (!info || info.State?.Running === false) return;
    this.containers.set(id, toContainer(info, await imageLabelsOf(this.docker, info.Image, this.images)));
  }
}

/** What a network inspect says of the containers on it: their addresses, as prefixes ("172.17.0.2/16"). */
interface NetworkView {
  readonly id: string;
  readonly name: string;
  /** Where a binding that names no host address goes (dockerd's --ip for the default bridge, or the network's option). */
  readonly bindingIp: string;
  readonly containers: Readonly<Record<string, { IPv4Address?: string; IPv6Address?: string }>>;
}

type NetworkInspect = { Id: string; Name: string; Options?: Record<string, string>; Containers?: Record<string, { IPv4Address?: string; IPv6Address?: string }> };

function toNetworkView(n: NetworkInspect): NetworkView {
  return { id: n.Id, name: n.Name, bindingIp: n.Options?.['com.docker.network.bridge.host_binding_ipv4'] || '0.0.0.0', containers: n.Containers ?? {} };
}

/**
 * The bindings as the start will report them: one that names no host address is bound to
 * the network's binding address, in IPv4 only. Docker may add an IPv6 (::) binding at the
 * start; that one waits for the start's inspect, so the early rules never publish more
 * than Docker will.
 */
function boundTo(ports: readonly PortBinding[], n: NetworkView): PortBinding[] {
  return ports.map((p) => (p.hostIp === '' ? { ...p, hostIp: n.bindingIp } : p));
}

/** The container's endpoint on the network, as a container inspect would give it; none while it has no address there. */
function endpointIn(n: NetworkView, id: string): Endpoint[] {
  const entry = n.containers[id];
  const ipv4 = entry?.IPv4Address?.split('/')[0];
  const ipv6 = entry?.IPv6Address?.split('/')[0];
  if (!ipv4 && !ipv6) return [];
  return [{ networkId: n.id, networkName: n.name, ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) }];
}

/** One full read, nothing cached: what `dockward inventory` and `apply` use. */
export function readInventory(docker: Docker): Promise<Inventory> {
  return new InventoryReader(docker).read();
}

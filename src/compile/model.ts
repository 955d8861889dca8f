/**
 * Inventory → the validated view the compiler works from: bridge networks and the
 * published bindings of each container. Anything from Docker that does not validate is
 * left out here, with a note, so no untrusted string travels further.
 */
import type { Container, Inventory, Network, PortBinding } from '../inventory/types.js';
import type { Family } from '../ruleset/types.js';
import { isAddress, isCidr, isInterfaceName, isPort } from '../ruleset/tokens.js';
import { containerChain } from './names.js';

export interface Bridge {
  readonly id: string;
  readonly name: string;
  readonly iface: string;
  readonly internal: boolean;
  readonly subnets: readonly { readonly cidr: string; readonly gateway?: string }[];
  readonly masquerade: boolean;
  readonly icc: boolean;
}

export interface Binding {
  readonly protocol: PortBinding['protocol'];
  /** Undefined: every local address of the family. */
  readonly hostIp?: string;
  readonly hostPort: number;
  readonly containerPort: number;
}

export interface Publication {
  readonly container: Container;
  readonly chain: string;
  readonly bridge: Bridge;
  readonly address: string;
  readonly bindings: readonly Binding[];
}

export interface Model {
  readonly bridges: readonly Bridge[];
  readonly publications: readonly Publication[];
  readonly notes: readonly string[];
}

const OPT = 'com.docker.network.bridge.';

function optionFlag(network: Network, key: string, fallback: boolean): boolean {
  const value = network.options[OPT + key];
  return value === undefined ? fallback : value === 'true';
}

function toBridge(network: Network, family: Family, notes: string[]): Bridge | undefined {
  if (!isInterfaceName(network.bridge)) {
    notes.push(`network ${network.id.slice(0, 12)}: bridge name is not a valid interface name; network left out`);
    return undefined;
  }
  const subnets = network.subnets.filter((s) => s.family === family && isCidr(family, s.cidr))
    .map((s) => (s.gateway && isAddress(family, s.gateway) ? { cidr: s.cidr, gateway: s.gateway } : { cidr: s.cidr }));
  return {
    id: network.id, name: network.name, iface: network.bridge, internal: network.internal, subnets,
    // With its own rules off Docker reports masquerade "false" on the default bridge: an artefact, not a wish.
    masquerade: network.isDefault || optionFlag(network, 'enable_ip_masquerade', true),
    icc: optionFlag(network, 'enable_icc', true),
  };
}

/** The endpoint Docker publishes through: the network the container was started on, else its first one. */
function publishingEndpoint(c: Container, bridges: ReadonlyMap<string, Bridge>, family: Family) {
  const usable = c.endpoints.filter((e) => bridges.has(e.networkId) && e.ipv4 !== undefined && isAddress(family, e.ipv4));
  const mode = c.networkMode === 'default' ? 'bridge' : c.networkMode;
  return usable.find((e) => e.networkName === mode || e.networkId === mode) ?? usable[0];
}

function hostIpOf(b: PortBinding, family: Family): string | undefined | null {
  if (b.hostIp === '' || b.hostIp === '0.0.0.0') return family === 'ipv4' ? undefined : null;
  if (b.hostIp === '::') return family === 'ipv6' ? undefined : null;
  return isAddress(family, b.hostIp) ? b.hostIp : null;
}

/** Valid bindings of one family, one per (protocol, host address, host port). */
function bindingsOf(c: Container, family: Family, notes: string[]): Binding[] {
  const seen = new Set<string>();
  const out: Binding[] = [];
  for (const b of c.ports) {
    const hostIp = hostIpOf(b, family);
    if (hostIp === null || !isPort(b.hostPort) || !isPort(b.containerPort)) {
      if (b.hostIp.includes(':') && family === 'ipv4') notes.push(`container ${c.id.slice(0, 12)}: IPv6 binding [${b.hostIp}]:${b.hostPort} not handled yet`);
      continue;
    }
    const key = `${b.protocol}/${hostIp ?? '*'}/${b.hostPort}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(hostIp === undefined ? { protocol: b.protocol, hostPort: b.hostPort, containerPort: b.containerPort }
      : { protocol: b.protocol, hostIp, hostPort: b.hostPort, containerPort: b.containerPort });
  }
  return out;
}

export function buildModel(inventory: Inventory, family: Family): Model {
  const notes: string[] = [];
  const bridges = new Map<string, Bridge>();
  for (const network of inventory.networks) {
    const bridge = toBridge(network, family, notes);
    if (bridge) bridges.set(bridge.id, bridge);
  }
  const publications: Publication[] = [];
  for (const c of inventory.containers) {
    const bindings = bindingsOf(c, family, notes);
    if (bindings.length === 0) continue;
    const endpoint = publishingEndpoint(c, bridges, family);
    const bridge = endpoint && bridges.get(endpoint.networkId);
    if (!endpoint?.ipv4 || !bridge || bridge.internal) continue;
    publications.push({ container: c, chain: containerChain(c.id), bridge, address: endpoint.ipv4, bindings });
  }
  return { bridges: [...bridges.values()], publications, notes };
}

/**
 * Inventory → the validated view the compiler works from: bridge networks and the
 * published bindings of each container. Anything from Docker that does not validate is
 * left out here, with a note, so no untrusted string travels further.
 */
import type { Container, Endpoint, Inventory, Network, PortBinding } from '../inventory/types.js';
import { startedOn } from '../inventory/network-mode.js';
import type { Family } from '../ruleset/types.js';
import { isAddress, isCidr, isInterfaceName, isPort } from '../ruleset/tokens.js';
import { containerChain } from './names.js';
import type { Policy } from '../policy/types.js';
import { iccOf } from './icc.js';
import { uncached, type PerContainer } from './cache.js';

export interface Bridge {
  readonly id: string;
  readonly name: string;
  readonly iface: string;
  readonly internal: boolean;
  readonly subnets: readonly { readonly cidr: string; readonly gateway?: string }[];
  readonly masquerade: boolean;
  readonly icc: boolean;
  /**
   * Docker 28's gateway modes (com.docker.network.bridge.gateway_mode_ipv4|ipv6):
   * nat (default); routed: no masquerade, no DNAT, published container ports reached at the
   * container's address; nat-unprotected: nat, and every container port open to direct
   * routing; isolated: like an internal network.
   */
  readonly gatewayMode: GatewayMode;
  /** com.docker.network.host_ipv4 / host_ipv6: outbound traffic leaves from this address (SNAT) instead of masquerading. */
  readonly snatTo?: string;
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

/** A container's address on one bridge network: what direct container-to-container rules match. */
export interface Attachment {
  readonly container: Container;
  readonly bridge: Bridge;
  readonly address: string;
}

export interface Model {
  readonly bridges: readonly Bridge[];
  readonly publications: readonly Publication[];
  readonly attachments: readonly Attachment[];
  readonly notes: readonly string[];
}

const OPT = 'com.docker.network.bridge.';

function optionFlag(network: Network, key: string, fallback: boolean): boolean {
  const value = network.options[OPT + key];
  return value === undefined ? fallback : value === 'true';
}

export type GatewayMode = 'nat' | 'routed' | 'nat-unprotected' | 'isolated';

function gatewayModeOf(network: Network, family: Family): GatewayMode {
  const mode = network.options[`com.docker.network.bridge.gateway_mode_${family}`];
  return mode === 'routed' || mode === 'nat-unprotected' || mode === 'isolated' ? mode : 'nat';
}

function toBridge(network: Network, family: Family, notes: string[]): Bridge | undefined {
  if (!isInterfaceName(network.bridge)) {
    notes.push(`network ${network.id.slice(0, 12)}: bridge name is not a valid interface name; network left out`);
    return undefined;
  }
  const subnets = network.subnets.filter((s) => s.family === family && isCidr(family, s.cidr))
    .map((s) => (s.gateway && isAddress(family, s.gateway) ? { cidr: s.cidr, gateway: s.gateway } : { cidr: s.cidr }));
  const gatewayMode = gatewayModeOf(network, family);
  return {
    id: network.id, name: network.name, iface: network.bridge, internal: network.internal || gatewayMode === 'isolated', subnets,
    // With its own rules off Docker reports masquerade "false" on the default bridge: an artefact, not a wish.
    masquerade: gatewayMode !== 'routed' && (network.isDefault || optionFlag(network, 'enable_ip_masquerade', true)),
    gatewayMode,
    icc: optionFlag(network, 'enable_icc', true),
    ...snatOf(network, family),
  };
}

function snatOf(network: Network, family: Family): { snatTo?: string } {
  const address = network.options[`com.docker.network.host_${family}`];
  return address !== undefined && isAddress(family, address) ? { snatTo: address } : {};
}

/**
 * The endpoint Docker publishes through: the network the container was started on, else
 * its first bridge network — the same one for both families, as Docker does. A container
 * without an address of the family on it is not published in that family (with the
 * userland proxy off, Docker cannot map IPv6 to an IPv4-only container either).
 */
function publishingEndpoint(c: Container, bridges: ReadonlyMap<string, Bridge>) {
  const usable = c.endpoints.filter((e) => bridges.has(e.networkId));
  return usable.find((e) => startedOn(c, { id: e.networkId, name: e.networkName })) ?? usable[0];
}

function addressOf(e: Endpoint | undefined, family: Family): string | undefined {
  const address = family === 'ipv4' ? e?.ipv4 : e?.ipv6;
  return address !== undefined && isAddress(family, address) ? address : undefined;
}

/** Host address of a binding in this family: undefined = every address, null = not this family. */
function hostIpOf(b: PortBinding, family: Family): string | undefined | null {
  const ip = b.hostIp.startsWith('::ffff:') && isAddress('ipv4', b.hostIp.slice(7)) ? b.hostIp.slice(7) : b.hostIp;
  if (ip === '' || ip === '0.0.0.0') return family === 'ipv4' ? undefined : null;
  if (ip === '::') return family === 'ipv6' ? undefined : null;
  return isAddress(family, ip) ? ip : null;
}

/** Valid bindings of one family, one per (protocol, host address, host port). */
function bindingsOf(c: Container, family: Family, notes: string[]): Binding[] {
  const seen = new Set<string>();
  const out: Binding[] = [];
  for (const b of c.ports) {
    const hostIp = hostIpOf(b, family);
    if (hostIp === null) continue;
    if (!isPort(b.hostPort) || !isPort(b.containerPort)) {
      notes.push(`container ${c.id.slice(0, 12)}: binding ${b.hostPort}:${b.containerPort}/${b.protocol} has an invalid port; left out`);
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

/** What one container contributes to the model: computed from the container and the bridges alone. */
interface ContainerModel {
  readonly attachments: readonly Attachment[];
  readonly publication?: Publication;
  readonly notes: readonly string[];
}

function containerModel(c: Container, bridges: ReadonlyMap<string, Bridge>, family: Family): ContainerModel {
  const notes: string[] = [];
  const attachments = attachmentsOf(c, bridges, family);
  const bindings = bindingsOf(c, family, notes);
  if (bindings.length === 0) return { attachments, notes };
  const endpoint = publishingEndpoint(c, bridges);
  const bridge = endpoint && bridges.get(endpoint.networkId);
  const address = addressOf(endpoint, family);
  if (!address || !bridge || bridge.internal) return { attachments, notes };
  return { attachments, publication: { container: c, chain: containerChain(c.id), bridge, address, bindings }, notes };
}

/** The bridges of one family, with ICC as the policy decides it (icc.ts). */
export function bridgesOf(inventory: Inventory, family: Family, policy: Policy, notes: string[]): Map<string, Bridge> {
  const bridges = new Map<string, Bridge>();
  for (const network of inventory.networks) {
    const bridge = toBridge(network, family, notes);
    if (bridge) bridges.set(bridge.id, { ...bridge, icc: iccOf(bridge, policy) });
  }
  return bridges;
}

/**
 * `memo` remembers each container's share (CompileCache, which forgets everything when the
 * networks or the policy change): after an event, only the changed container is looked at.
 */
export function buildModel(inventory: Inventory, family: Family, policy: Policy, memo: PerContainer = uncached): Model {
  const notes: string[] = [];
  // Keyed by the policy: the cache forgets everything when the policy or the networks change.
  const bridges = memo(policy, `bridges/${family}`, () => ({ map: bridgesOf(inventory, family, policy, notes), notes: [...notes] }));
  const modelNotes = [...bridges.notes];
  const publications: Publication[] = [];
  const attachments: Attachment[] = [];
  const slot = `model/${family}`;
  for (const c of inventory.containers) {
    const share = memo(c, slot, () => containerModel(c, bridges.map, family));
    for (const a of share.attachments) attachments.push(a);
    if (share.publication) publications.push(share.publication);
    for (const note of share.notes) modelNotes.push(note);
  }
  return { bridges: [...bridges.map.values()], publications, attachments, notes: modelNotes };
}

function attachmentsOf(c: Container, bridges: ReadonlyMap<string, Bridge>, family: Family): Attachment[] {
  const out: Attachment[] = [];
  for (const e of c.endpoints) {
    const bridge = bridges.get(e.networkId);
    const address = bridge && addressOf(e, family);
    if (bridge && address) out.push({ container: c, bridge, address });
  }
  return out;
}

/**
 * Legacy `--link`s, as Docker honours them: with ICC off, a container may still reach the
 * containers it links to, on the ports they expose (and only those). Expressed as implicit
 * `connections` paths, after the policy's own (which decide first); with ICC on they
 * change nothing. Replies pass as any reply does (conntrack).
 */
import type { Inventory } from '../inventory/types.js';
import type { ConnectionRule, PortRange } from '../policy/types.js';
import type { L4Protocol } from '../ruleset/types.js';

function exposedRanges(ports: readonly string[]): PortRange[] {
  return ports.flatMap((spec) => {
    const [number = '', protocol = 'tcp'] = spec.split('/');
    const port = Number(number);
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !['tcp', 'udp', 'sctp'].includes(protocol)) return [];
    return [{ protocol: protocol as L4Protocol, from: port, to: port }];
  });
}

export function linkConnections(inventory: Inventory): ConnectionRule[] {
  if (!inventory.containers.some((c) => (c.links?.length ?? 0) > 0)) return [];
  const byName = new Map(inventory.containers.map((c) => [c.name, c]));
  return inventory.containers.flatMap((parent) => (parent.links ?? []).flatMap((name) => {
    const child = byName.get(name);
    const ports = exposedRanges(child?.exposedPorts ?? []);
    if (!child || ports.length === 0) return [];
    return [{ index: -1, name: 'link', from: [{ name: parent.name }], to: [{ name: child.name }], ports, action: 'allow' as const }];
  }));
}

/** Why a container has no published binding dockward handles, in words. */
import type { Container, Inventory } from '../inventory/types.js';

export function nothingPublished(c: Container, inventory: Inventory): string {
  const mode = c.networkMode;
  if (mode === 'host') return "it uses the host's network (network mode host): it publishes nothing of its own; what it listens on is the host's, outside dockward's rules";
  if (mode === 'none') return 'it has no network (network mode none): it publishes nothing';
  if (mode.startsWith('container:')) {
    const id = mode.slice('container:'.length);
    const other = inventory.containers.find((o) => o.id === id || o.name === id);
    const who = other ? other.name : id.slice(0, 12);
    return `it shares the network of container ${who} (network mode container:): it publishes nothing of its own; explain ${who} instead`;
  }
  if (c.ports.length === 0) return 'it publishes no ports';
  const internal = c.endpoints.map((e) => inventory.networks.find((n) => n.id === e.networkId)).find((n) => n?.internal);
  if (internal) return `its network ${internal.name} is internal: its published ports lead nowhere`;
  return 'none of its published ports can be handled (see the notes of dockward plan)';
}

/**
 * explain CONTAINER: who may reach each published port of one container and which rule
 * decides; with --from, what the compiled rules do with a new connection from there.
 * Reads Docker (or --inventory) and the policy, and this host's own addresses; changes
 * nothing and needs no root with --inventory.
 */
import { networkInterfaces } from 'node:os';
import { systemIpset } from '../../dataplane/ipset.js';
import { explain as explainContainer, parseFrom, renderText, type HostAddress } from '../../explain/index.js';
import type { Request } from '../args.js';
import { inventoryOf, policyOf } from '../context.js';

/** This host's interface addresses: where a client's connection would arrive, and what is "LOCAL". */
function hostAddresses(): HostAddress[] {
  return Object.entries(networkInterfaces()).flatMap(([iface, addrs]) =>
    (addrs ?? []).flatMap((a) => (a.cidr ? [{ iface, address: a.address, cidr: a.cidr }] : [])));
}

export async function explain(request: Request): Promise<number> {
  const from = request.from === undefined ? undefined : parseFrom(request.from);
  // Which ipsets exist decides which rules are in, as for apply; without ipset (no root) none are known.
  const [policy, inventory, ipsets] = await Promise.all([policyOf(request), inventoryOf(request), systemIpset().list().catch(() => new Map())]);
  const explanation = explainContainer({
    inventory, policy, host: hostAddresses(), container: request.container ?? '', ipsets, ...(from ? { from } : {}),
  });
  process.stdout.write(request.json ? `${JSON.stringify(explanation, null, 2)}\n` : renderText(explanation));
  return 0;
}

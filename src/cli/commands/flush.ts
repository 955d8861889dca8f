import { systemIpset } from '../../dataplane/ipset.js';
import { removeAll } from '../../dataplane/remove-all.js';
import type { Request } from '../args.js';
import { iptablesOf } from '../context.js';

/** Remove every DOCKWARD chain, hook and own ipset in both families; DOCKER-USER and sysctls stay. */
export async function flush(request: Request): Promise<number> {
  const ipt = await iptablesOf(request);
  const removed = await removeAll(ipt, systemIpset());
  for (const family of ['ipv4', 'ipv6'] as const) process.stdout.write(`${family} (${ipt.backend}): removed ${removed.chains[family]} chains\n`);
  if (removed.sets.length > 0) process.stdout.write(`removed ipsets: ${removed.sets.join(', ')}\n`);
  return 0;
}

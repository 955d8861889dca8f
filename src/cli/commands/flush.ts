import { flushFamily } from '../../dataplane/apply.js';
import { removeStaleSets, systemIpset } from '../../dataplane/ipset.js';
import type { Family } from '../../ruleset/types.js';
import type { Request } from '../args.js';
import { iptablesOf } from '../context.js';

/** Remove every DOCKWARD chain and hook in both families; DOCKER-USER and sysctls stay. */
export async function flush(request: Request): Promise<number> {
  const ipt = await iptablesOf(request);
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    const changes = await flushFamily(ipt, family);
    process.stdout.write(`${family} (${ipt.backend}): removed ${changes.length} chains\n`);
  }
  // No rule matches them any more: dockward's own sets go too (others' sets are never touched).
  const sets = await removeStaleSets(systemIpset(), []);
  if (sets.length > 0) process.stdout.write(`removed ipsets: ${sets.join(', ')}\n`);
  return 0;
}

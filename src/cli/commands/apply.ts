import { compile, DEFAULT_OPTIONS } from '../../compile/index.js';
import { removeStaleSets, syncOwnSets, systemIpset } from '../../dataplane/ipset.js';
import { applyRuleset } from '../../dataplane/apply.js';
import { ensureKernelState } from '../../dataplane/kernel.js';
import type { Request } from '../args.js';
import { inventoryOf, iptablesOf, policyOf } from '../context.js';

/** One reconcile: exit 0 when the live rules equal the desired ones (read back and verified). */
export async function apply(request: Request): Promise<number> {
  const [policy, inventory] = await Promise.all([policyOf(request), inventoryOf(request)]);
  const ipt = await iptablesOf(request);
  const ipset = systemIpset();
  const compiled = compile(inventory, policy, { ...DEFAULT_OPTIONS, ipsets: await ipset.list() });
  for (const note of compiled.notes) process.stderr.write(`note: ${note}\n`);
  // dockward's own sets first: the rules that match them cannot load without them.
  await syncOwnSets(ipset, compiled.ownSets);
  const kernel = await ensureKernelState(compiled.bridges);
  for (const problem of kernel.problems) process.stderr.write(`warning: ${problem}\n`);
  for (const ruleset of compiled.rulesets) {
    const result = await applyRuleset(ipt, ruleset);
    for (const protocol of result.skipped) process.stderr.write(`warning: ${ruleset.family}: the kernel refused ${protocol} rules; ${protocol} publications left out\n`);
    const what = result.changes.length === 0 ? 'in sync, nothing changed' : `${result.changes.length} changes, ${result.restoreBytes} bytes restored`;
    process.stdout.write(`${ruleset.family} (${ipt.backend}): ${what} in ${result.durationMs} ms; ${compiled.stats.mappings} mappings, ${compiled.stats.rules} rules\n`);
  }
  await removeStaleSets(ipset, compiled.ownSets);
  return 0;
}

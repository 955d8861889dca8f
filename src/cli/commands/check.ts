import { formatIssues } from '../../policy/issues.js';
import { policyWarnings } from '../../policy/warnings.js';
import type { Policy } from '../../policy/types.js';
import type { Request } from '../args.js';
import { policyOf } from '../context.js';

/**
 * Validate the policy; print what it holds. Bad input throws InputError (exit 2). Rules
 * that can never decide (an earlier rule matches all their traffic) and two rules of one name in a list are warnings on
 * stderr: the policy is valid, and the exit code stays 0.
 */
export async function check(request: Request): Promise<number> {
  const policy = await policyOf(request);
  const warnings = policyWarnings(policy);
  if (warnings.length > 0) {
    process.stderr.write(`${formatIssues(policy.origin, warnings).split('\n').map((l) => `warning: ${l}`).join('\n')}\n`);
  }
  process.stdout.write(`${policy.origin}: ok (${summary(policy)})\n`);
  return 0;
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** What the policy holds, list by list: the lists it leaves out are not mentioned. */
function summary(policy: Policy): string {
  const lists: [string, number | undefined][] = [
    ['rule', policy.rules.length],
    ['connection rule', policy.connections?.length],
    ['egress rule', policy.egress?.length],
    ['host.toContainers rule', policy.host?.toContainers?.length],
    ['host.input rule', policy.host?.manage?.input.length],
  ];
  const parts = lists.filter(([what, n]) => n !== undefined && (n > 0 || what === 'rule')).map(([what, n]) => count(n!, what));
  parts.push(`default for published ports: ${policy.defaults.published}`);
  if (policy.defaults.outbound) parts.push(`outbound: ${policy.defaults.outbound}`);
  if (policy.host?.manage) parts.push(`exclusive host mode, host default: ${policy.host.manage.default}`);
  return parts.join(', ');
}

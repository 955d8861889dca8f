import { formatIssues } from '../../policy/issues.js';
import { shadowWarnings } from '../../policy/shadow.js';
import type { Request } from '../args.js';
import { policyOf } from '../context.js';

/**
 * Validate the policy; print what it holds. Bad input throws InputError (exit 2). Rules
 * that can never decide (an earlier rule matches all their traffic) are warnings on
 * stderr: the policy is valid, and the exit code stays 0.
 */
export async function check(request: Request): Promise<number> {
  const policy = await policyOf(request);
  const warnings = shadowWarnings(policy);
  if (warnings.length > 0) {
    process.stderr.write(`${formatIssues(policy.origin, warnings).split('\n').map((l) => `warning: ${l}`).join('\n')}\n`);
  }
  process.stdout.write(`${policy.origin}: ok (${policy.rules.length} rules, default for published ports: ${policy.defaults.published})\n`);
  return 0;
}

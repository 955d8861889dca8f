import type { Request } from '../args.js';
import { policyOf } from '../context.js';

/** Validate the policy; print what it holds. Bad input throws InputError (exit 2). */
export async function check(request: Request): Promise<number> {
  const policy = await policyOf(request);
  process.stdout.write(`${policy.origin}: ok (${policy.rules.length} rules, default for published ports: ${policy.defaults.published})\n`);
  return 0;
}

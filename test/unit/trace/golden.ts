/** The golden cases (test/golden/cases/*) as inventories and policies, for tests that read them rather than render them. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inventorySchema } from '../../../src/inventory/schema.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { parsePolicy } from '../../../src/policy/load.js';
import type { Policy } from '../../../src/policy/types.js';

const root = new URL('../../golden/cases/', import.meta.url).pathname;

export interface GoldenCase {
  readonly name: string;
  readonly inventory: Inventory;
  readonly policy: Policy;
}

function policyOf(dir: string): Policy {
  const file = join(dir, 'policy.yaml');
  if (!existsSync(file)) return BUILTIN_DEFAULT;
  const parsed = parsePolicy(readFileSync(file, 'utf8'), 'policy.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.policy;
}

export function goldenCases(): GoldenCase[] {
  return readdirSync(root).sort().map((name) => {
    const dir = join(root, name);
    const inventory = inventorySchema.parse(JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8')));
    return { name, inventory, policy: policyOf(dir) };
  });
}

/**
 * Golden files: each case folder holds an inventory (as `dockward inventory` prints it)
 * and a policy; the rulesets they compile to (IPv4 and IPv6) are kept next to them. A
 * change in generated rules shows up as a reviewable diff of expected.v4/v6.rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, DEFAULT_OPTIONS } from '../../src/compile/index.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { parsePolicy } from '../../src/policy/load.js';
import { BUILTIN_DEFAULT } from '../../src/policy/default.js';
import { renderRuleset } from '../../src/ruleset/plan.js';
import { exclusiveText } from '../../src/ruleset/exclusive.js';

const root = join(import.meta.dirname, 'cases');

function load(dir: string) {
  const inventory = inventorySchema.parse(JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8')));
  let text: string | undefined;
  try {
    text = readFileSync(join(dir, 'policy.yaml'), 'utf8');
  } catch {
    text = undefined;
  }
  if (text === undefined) return { inventory, policy: BUILTIN_DEFAULT };
  const parsed = parsePolicy(text, 'policy.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { inventory, policy: parsed.policy };
}

/** Optional ipsets.json: the sets that exist on the host (name → family), as `ipset list` would say. */
function ipsetsOf(dir: string): Map<string, 'ipv4' | 'ipv6'> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(join(dir, 'ipsets.json'), 'utf8')) as Record<string, 'ipv4' | 'ipv6'>));
  } catch {
    return new Map();
  }
}

describe('golden rulesets', () => {
  for (const name of readdirSync(root).sort()) {
    it(`${name} compiles to its expected rules`, async () => {
      const dir = join(root, name);
      const { inventory, policy } = load(dir);
      for (const ruleset of compile(inventory, policy, { ...DEFAULT_OPTIONS, ipsets: ipsetsOf(dir) }).rulesets) {
        const file = join(dir, `expected.${ruleset.family === 'ipv4' ? 'v4' : 'v6'}.rules`);
        // Exclusive host mode is restored whole: the golden file is that restore input.
        await expect(ruleset.exclusive ? exclusiveText(ruleset) : renderRuleset(ruleset)).toMatchFileSnapshot(file);
      }
    });
  }
});

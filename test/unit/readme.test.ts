/** The README cannot drift from the product: its policy examples, commands and quick start are checked here. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/args.js';
import { parsePolicy } from '../../src/policy/load.js';
import { BUILTIN_DEFAULT } from '../../src/policy/default.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { compile } from '../../src/compile/index.js';
import { renderRuleset } from '../../src/ruleset/plan.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
const blocks = (lang: string) => [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

describe('README', () => {
  it.each(blocks('yaml').map((text, i) => [i, text] as const))('policy example %i is a valid policy', (_i, text) => {
    const result = parsePolicy(text, 'README.md');
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it('the example policy of the demo is valid', () => {
    const result = parsePolicy(readFileSync(new URL('../../examples/policy.yaml', import.meta.url), 'utf8'), 'examples/policy.yaml');
    expect(result.ok).toBe(true);
  });

  it('the quick start is exactly two lines, and CI runs the second', () => {
    const [quick] = blocks('sh');
    const lines = quick!.trim().split('\n');
    expect(lines).toEqual(['./scripts/install-deps.sh && npm ci && npm run demo', './scripts/install-deps.sh && npm ci && npm test']);
    for (const step of ['scripts/install-deps.sh', 'npm ci', 'npm test']) expect(ci).toContain(step);
  });

  it('the inventory example is a valid inventory that compiles', () => {
    const [json] = blocks('json');
    const parsed = inventorySchema.safeParse(JSON.parse(json!));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    const text = compile(parsed.data!, BUILTIN_DEFAULT).rulesets.map(renderRuleset).join('');
    expect(text).toContain('--dport 8080 -m comment --comment');
    expect(text).toContain('-j DNAT --to-destination 172.17.0.2:80');
  });

  it('documents every command', () => {
    for (const command of COMMANDS) expect(readme).toContain(`| \`${command}\``);
  });
});

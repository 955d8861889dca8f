/** The README cannot drift from the product: its policy examples, commands and quick start are checked here. */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('the error example is what `dockward check` prints for such a file, line for line, with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-readme-'));
    try {
      const file = join(dir, 'policy.yaml');
      writeFileSync(file, BAD_POLICY);
      const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
      const r = await execa(process.execPath, [cli, 'check', '--policy', file], { reject: false });
      expect(r.exitCode).toBe(2);
      const shown = r.stderr.split('\n').map((l) => l.replace(file, '/etc/dockward/policy.yaml'));
      const example = readme.split('**Errors.**')[1]?.split('```\n')[1]?.trimEnd().split('\n') ?? [];
      expect(example).toEqual(['$ dockward check', ...shown]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every command', () => {
    for (const command of COMMANDS) expect(readme).toContain(`| \`${command}\``);
  });
});

/** The policy behind the README's error example: a problem of each common kind, one at the document root. */
const BAD_POLICY = `version: 1
zones:
  office: { sources: [198.51.100.7/24] }
  lan: { interfaces: [eth1] }
rules:
  - ports: [70000]
    from: [zone:offce]
  - ports: [443]
    form: [zone:office]
extra: true
`;

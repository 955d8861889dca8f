/** YAML problems are told in the words of a policy file, not of the parser's API. */
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../src/policy/load.js';

function messages(text: string): string[] {
  const result = parsePolicy(text, 'policy.yaml');
  return result.ok ? [] : result.issues.map((i) => i.message);
}

describe('YAML errors', () => {
  it('a second document says so, with its line', () => {
    expect(messages('version: 1\n---\nversion: 1\n')).toEqual([
      'YAML syntax error at line 2, column 1: a second YAML document ("---"); a policy file holds one document',
    ]);
  });

  it('nesting deep enough to exhaust the parser is "nested too deeply", not a stack overflow', () => {
    const found = messages(`version: 1\nrules: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    expect(found.length).toBeGreaterThan(0);
    for (const message of found) expect(message).toMatch(/^YAML syntax error at line 2, column \d+: nested too deeply$/);
  });
});

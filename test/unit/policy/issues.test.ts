import { describe, expect, it } from 'vitest';
import { formatIssues, formatPath } from '../../../src/policy/issues.js';

describe('formatIssues', () => {
  it('writes one "FILE: PATH: message" line per problem', () => {
    const text = formatIssues('/etc/dockward/policy.yaml', [
      { path: 'rules[2].from[0]', message: 'unknown zone "offce" (known zones: external, office)' },
      { path: 'version', message: 'must be 1 (got 2)' },
    ]);
    expect(text).toBe(
      [
        '/etc/dockward/policy.yaml: rules[2].from[0]: unknown zone "offce" (known zones: external, office)',
        '/etc/dockward/policy.yaml: version: must be 1 (got 2)',
      ].join('\n'),
    );
  });

  it('leaves the path out when the problem is about the whole file', () => {
    expect(formatIssues('p.yaml', [{ path: '', message: 'file not found' }])).toBe('p.yaml: file not found');
  });
});

describe('formatPath', () => {
  it('brackets list positions and dots map keys', () => {
    expect(formatPath(['rules', 2, 'from', 0])).toBe('rules[2].from[0]');
    expect(formatPath(['zones', 'office', 'sources', 1])).toBe('zones.office.sources[1]');
    expect(formatPath(['defaults', 'published'])).toBe('defaults.published');
    expect(formatPath(['zones', 'dmz-1'])).toBe('zones.dmz-1');
  });

  it('quotes keys that would not read as one word', () => {
    expect(formatPath(['zones', 'my zone'])).toBe('zones["my zone"]');
    expect(formatPath(['zones', '1'])).toBe('zones["1"]');
    expect(formatPath(['zones', 'a\nb'])).toBe('zones["a\\nb"]');
  });

  it('is empty for the document itself', () => {
    expect(formatPath([])).toBe('');
  });
});

/** `log: true` on rules and defaults: normalised form, errors, and the LOG prefix. */
import { describe, expect, it } from 'vitest';
import { logPrefix } from '../../../src/compile/logging.js';
import { policy, problems } from '../../helpers/fixtures.js';


describe('log', () => {
  it('takes a default as an action or as { action, log }', () => {
    const p = policy('version: 1\ndefaults:\n  published: { action: deny, log: true }\n  outbound: reject\n');
    expect(p.defaults).toEqual({ published: 'deny', outbound: 'reject', log: { published: true } });
  });

  it('keeps log on a rule only when true', () => {
    const p = policy('version: 1\nrules:\n  - { log: true }\n  - { log: false }\negress:\n  - { log: true }\n');
    expect(p.rules.map((r) => r.log)).toEqual([true, undefined]);
    expect(p.egress?.[0]?.log).toBe(true);
  });

  it('names every problem at its place', () => {
    expect(problems('version: 1\ndefaults:\n  published: { action: deny, log: yes please }\n  outbound: { log: true }\nrules:\n  - { log: 1 }\n')).toEqual([
      'policy.yaml: defaults.published.log: must be true or false (got "yes please")',
      'policy.yaml: defaults.outbound.action: must be one of allow, deny, reject (got an empty value)',
      'policy.yaml: rules[0].log: must be true or false (got 1)',
    ]);
  });

  it('makes a LOG prefix of at most 29 characters from token characters only', () => {
    expect(logPrefix('DROP', 'rules[2]:web')).toBe('DW DENY rules[2]:web ');
    expect(logPrefix('ACCEPT', 'default')).toBe('DW ALLOW default:published ');
    const long = logPrefix('REJECT', 'host.toContainers[12]:a-very-long-name');
    expect(long).toHaveLength(29);
    expect(long).toMatch(/^[A-Za-z0-9 ._:[\]-]+ $/);
  });
});

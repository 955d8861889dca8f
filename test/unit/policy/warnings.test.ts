import { describe, expect, it } from 'vitest';
import { policyWarnings } from '../../../src/policy/warnings.js';
import { policy } from '../../helpers/fixtures.js';

const warnings = (yaml: string) => policyWarnings(policy(yaml)).map((w) => `${w.path}: ${w.message}`);

describe('policy warnings', () => {
  it('name two rules of one name in a list (a policy that loaded before still loads); the same name in two lists is fine', () => {
    const text = 'version: 1\nrules:\n  - { name: web, ports: [443] }\n  - { name: api, ports: [8443] }\n  - { name: web, ports: [80] }\n'
      + 'egress:\n  - { name: web, ports: [25] }\nconnections:\n  - { name: db, from: a, to: b }\n  - { name: db, from: a, to: c }\n';
    expect(warnings(text)).toEqual([
      'rules[2].name: "web" is also the name of rules[0]',
      'connections[1].name: "db" is also the name of connections[0]',
    ]);
  });

  it('include the rules that can never decide', () => {
    expect(warnings('version: 1\nrules:\n  - { ports: [443] }\n  - { ports: [443], from: [192.0.2.7] }\n'))
      .toEqual(['rules[1]: never decides: rules[0] matches all of its traffic first']);
  });
});

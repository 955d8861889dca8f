/** `labels:` in the policy and the `dockward.rules` label grammar, with its messages. */
import { describe, expect, it } from 'vitest';
import { labelRules } from '../../../src/compile/labels.js';
import { rulesFor } from '../../../src/compile/access.js';
import { parseRulesLabel } from '../../../src/policy/labels.js';
import { container, network, policy } from '../../helpers/fixtures.js';

const zones = { office: [{ cidr: '198.51.100.0/24', label: 'zone:office' }] };
const LABELS = `version: 1
zones: { office: { sources: [198.51.100.0/24] } }
labels: { enabled: true }
rules:
  - { name: file, ports: [443] }
`;

describe('the dockward.rules label', () => {
  it('parses clauses: action, ports, optional sources (zones of the file, addresses, any)', () => {
    expect(parseRulesLabel('allow 443/tcp,8000-8001/udp from zone:office, 192.0.2.7 ; deny 8080;', zones)).toEqual({
      ok: true,
      value: [
        {
          action: 'allow',
          ports: [{ protocol: 'tcp', from: 443, to: 443 }, { protocol: 'udp', from: 8000, to: 8001 }],
          from: [{ cidr: '198.51.100.0/24', label: 'zone:office' }, { cidr: '192.0.2.7/32', label: '192.0.2.7' }],
        },
        { action: 'deny', ports: [{ protocol: 'tcp', from: 8080, to: 8080 }], from: [{ label: 'any' }] },
      ],
    });
  });

  it.each([
    ['permit 443', 'clause 1 ("permit 443"): "permit" is not allow, deny or reject'],
    ['allow', 'clause 1 ("allow"): needs ports after the action'],
    ['allow 443; deny 80 to any', 'clause 2 ("deny 80 to any"): expected "from" after the ports, got "to"'],
    ['allow 443 from', 'clause 1 ("allow 443 from"): needs sources after "from"'],
    ['allow 70000', 'clause 1 ("allow 70000"): port 70000 out of range 1-65535'],
    ['allow 443 from zone:lab', 'clause 1 ("allow 443 from zone:lab"): unknown zone "lab"'],
    ['allow 443 from network:front', 'clause 1 ("allow 443 from network:front"): "network:front" is not "any", zone:NAME, an address or a CIDR'],
    [' ; ', 'holds no clause (expected ACTION PORTS [from SOURCES])'],
    ['allow 1;'.repeat(40), 'holds more than 32 clauses'],
  ])('refuses %j', (text, message) => {
    expect(parseRulesLabel(text, zones)).toEqual({ ok: false, error: message });
  });
});

describe('labels in the policy', () => {
  const web = container(1, network(1), [], { labels: { 'dockward.rules': 'deny 443' } });

  it('are off unless enabled, and normalise with the file\'s zones', () => {
    expect(policy('version: 1\nlabels: { enabled: false }\n').labels).toBeUndefined();
    expect(policy(LABELS).labels).toEqual({ position: 'after', trustImageLabels: false, zones });
  });

  it('become rules of that container only, after (or before) the file\'s rules', () => {
    const after = rulesFor(policy(LABELS), web);
    expect(after.map((r) => r.place ?? r.name)).toEqual(['file', 'label[0]']);
    const before = rulesFor(policy(LABELS.replace('enabled: true', 'enabled: true, position: before')), web);
    expect(before.map((r) => r.place ?? r.name)).toEqual(['label[0]', 'file']);
  });

  it('ignore a label inherited from the image unless trusted, and say why', () => {
    const baked = { ...web, imageLabels: { 'dockward.rules': 'deny 443' } };
    expect(labelRules(policy(LABELS), baked)).toEqual({ rules: [], problem: expect.stringContaining('inherited from its image; ignored') });
    expect(labelRules(policy(LABELS.replace('enabled: true', 'enabled: true, trustImageLabels: true')), baked).rules).toHaveLength(1);
    const changed = { ...web, imageLabels: { 'dockward.rules': 'allow 443' } };
    expect(labelRules(policy(LABELS), changed).rules, 'a value set on the container itself counts').toHaveLength(1);
  });
});

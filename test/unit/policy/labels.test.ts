/** `labels:` in the policy and the `dockward.rules` label grammar, with its messages. */
import { describe, expect, it } from 'vitest';
import { labelRules } from '../../../src/compile/labels.js';
import { rulesFor } from '../../../src/compile/access.js';
import { parseRulesLabel } from '../../../src/policy/labels.js';
import { compile, DEFAULT_OPTIONS } from '../../../src/compile/index.js';
import { containerChain } from '../../../src/compile/names.js';
import { container, inventory, network, policy, problems, tcp } from '../../helpers/fixtures.js';

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

describe('labels placed before the file\'s rules still come after its bans', () => {
  const BANS = `version: 1
zones:
  banned: { ipset: f2b-web }
  office: { sources: [198.51.100.0/24] }
labels: { enabled: true, position: before }
defaults: { published: deny }
rules:
  - { name: office, ports: [8080], from: [zone:office] }
  - { name: ban, from: [zone:banned], action: deny }
  - { name: no-lab, from: [203.0.113.0/24], action: reject }
`;
  const web = container(1, network(1), [tcp(443)], { name: 'web', labels: { 'dockward.rules': 'allow 443' } });

  it('orders the ban first, then the label, then the rest of the file in its order', () => {
    expect(rulesFor(policy(BANS), web).map((r) => r.place ?? r.name)).toEqual(['ban', 'label[0]', 'office', 'no-lab']);
    const after = policy(BANS.replace('position: before', 'position: after'));
    expect(rulesFor(after, web).map((r) => r.place ?? r.name)).toEqual(['office', 'ban', 'no-lab', 'label[0]']);
  });

  it('a banned source is refused although the label allows 443 to everyone', () => {
    const compiled = compile(inventory([network(1)], [web]), policy(BANS), { ...DEFAULT_OPTIONS, ipsets: new Map([['f2b-web', 'ipv4']]) });
    const tables = compiled.rulesets[0]!.tables;
    const chain = (t: 'mangle' | 'filter') => tables[t].chains.find((c) => c.name === containerChain(web.id))!.rules;
    expect(chain('filter').map((r) => `${r.note} ${r.target.kind}`)).toEqual(['rules[1]:ban DROP', 'label[0] ACCEPT']);
    expect(chain('filter')[0]!.matches).toContainEqual({ kind: 'set', name: 'f2b-web', dir: 'src' });
    // Before DNAT too: the ban drops first, the label's allow only returns after it.
    expect(chain('mangle').map((r) => `${r.note} ${r.target.kind}`)).toEqual(['rules[1]:ban DROP']);
  });
});

describe('the labels: section\'s errors', () => {
  it('names each bad key with its place, all at once', () => {
    expect(problems('version: 1\nlabels: { enabled: yes, position: first, trustImageLabels: "true", extra: 1 }\n')).toEqual([
      'policy.yaml: labels.enabled: must be true or false (got "yes")',
      'policy.yaml: labels.position: must be one of after, before (got "first")',
      'policy.yaml: labels.trustImageLabels: must be true or false (got "true")',
      'policy.yaml: labels: unknown key "extra" (known keys: enabled, position, trustImageLabels)',
    ]);
    expect(problems('version: 1\nlabels: [1]\n')).toEqual(['policy.yaml: labels: must be a map (got a list)']);
  });
});

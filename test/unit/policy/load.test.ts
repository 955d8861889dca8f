import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { formatIssues } from '../../../src/policy/issues.js';
import { loadPolicy, parsePolicy, policyHash } from '../../../src/policy/load.js';
import type { Policy, PolicyIssue } from '../../../src/policy/types.js';

const ISSUE_EXAMPLE = `version: 1
zones:                          # named sets of traffic sources
  external: { interfaces: [eth0] }            # inbound interface; "eth+" wildcard allowed
  office:   { sources: [198.51.100.0/24] }    # addresses or CIDRs
  lan:      { interfaces: [eth1], sources: [10.0.0.0/8] }   # both given: both must match
defaults:
  published: allow              # allow | deny | reject: what a published port gets when no rule decides
rules:                          # first match wins, top to bottom
  - name: public-https          # optional; shown by plan and in rule comments
    containers: "*"             # selector, below
    ports: [443/tcp]            # published HOST ports, what a client dials: "443/tcp", "53/udp", "8000-8100/tcp", "80" (= tcp)
    from: [zone:external, 192.0.2.10]   # zone:NAME, an address or CIDR, or "any"
    action: allow               # allow | deny | reject
  - containers: { label: "com.example.tier=edge" }
    containerPorts: [8443/tcp]  # the CONTAINER side instead: covers every host port that maps to it
    from: [zone:office]
`;

function policyOf(text: string): Policy {
  const result = parsePolicy(text, 'policy.yaml');
  if (!result.ok) throw new Error(formatIssues('policy.yaml', result.issues));
  return result.policy;
}

function issuesOf(text: string): PolicyIssue[] {
  const result = parsePolicy(text, 'policy.yaml');
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.issues;
}

/** The lines an operator would read on stderr for this file. */
const problems = (text: string): string[] => formatIssues('policy.yaml', issuesOf(text)).split('\n');

const rule0 = (body: string) => `version: 1\nrules:\n  - ${body}\n`;

describe('a valid policy', () => {
  it('normalises the example from the issue', () => {
    expect(policyOf(ISSUE_EXAMPLE)).toEqual({
      version: 1,
      defaults: { published: 'allow' },
      origin: 'policy.yaml',
      rules: [
        {
          index: 0,
          name: 'public-https',
          containers: [{ name: '*' }],
          ports: [{ protocol: 'tcp', from: 443, to: 443 }],
          from: [
            { iface: 'eth0', label: 'zone:external' },
            { cidr: '192.0.2.10/32', label: '192.0.2.10' },
          ],
          action: 'allow',
        },
        {
          index: 1,
          containers: [{ label: { key: 'com.example.tier', value: 'edge' } }],
          containerPorts: [{ protocol: 'tcp', from: 8443, to: 8443 }],
          from: [{ cidr: '198.51.100.0/24', label: 'zone:office' }],
          action: 'allow',
        },
      ],
    } satisfies Policy);
  });

  it('leaves out the keys a rule does not give, so "every container" and "any port" stay undefined', () => {
    const [rule] = policyOf(rule0('action: deny')).rules;
    expect(rule).toStrictEqual({ index: 0, from: [{ label: 'any' }], action: 'deny' });
  });

  it('fills in the defaults: published allow, no zones, no rules, action allow, from any', () => {
    expect(policyOf('version: 1\n')).toEqual({ version: 1, defaults: { published: 'allow' }, rules: [], origin: 'policy.yaml' });
    const [rule] = policyOf(rule0('ports: [80]')).rules;
    expect(rule?.action).toBe('allow');
    expect(rule?.from).toEqual([{ label: 'any' }]);
  });

  it('takes defaults.published deny and reject', () => {
    expect(policyOf('version: 1\ndefaults: { published: deny }\n').defaults.published).toBe('deny');
    expect(policyOf('version: 1\ndefaults: { published: reject }\n').defaults.published).toBe('reject');
  });

  it('reads "any" in from as one empty source match', () => {
    expect(policyOf(rule0('from: [any]')).rules[0]?.from).toEqual([{ label: 'any' }]);
  });

  it('expands a zone with interfaces and sources into every interface-source pair', () => {
    const text = `version: 1
zones:
  lan: { interfaces: [eth1, "wg+"], sources: [10.0.0.0/8, "2001:db8::/32"] }
rules:
  - from: [zone:lan]
`;
    expect(policyOf(text).rules[0]?.from).toEqual([
      { iface: 'eth1', cidr: '10.0.0.0/8', label: 'zone:lan' },
      { iface: 'eth1', cidr: '2001:db8::/32', label: 'zone:lan' },
      { iface: 'wg+', cidr: '10.0.0.0/8', label: 'zone:lan' },
      { iface: 'wg+', cidr: '2001:db8::/32', label: 'zone:lan' },
    ]);
  });

  it('keeps several from entries as alternatives, in file order', () => {
    const text = `version: 1
zones:
  external: { interfaces: [eth0, eth2] }
rules:
  - from: [192.0.2.10, zone:external, "2001:DB8::7"]
`;
    expect(policyOf(text).rules[0]?.from).toEqual([
      { cidr: '192.0.2.10/32', label: '192.0.2.10' },
      { iface: 'eth0', label: 'zone:external' },
      { iface: 'eth2', label: 'zone:external' },
      { cidr: '2001:db8::7/128', label: '2001:DB8::7' },
    ]);
  });

  it('reads ports given as an integer, as "N" and as "N/udp"', () => {
    const [rule] = policyOf(rule0('ports: [80, "80", 53/udp, 8000-8100/sctp]\n    containerPorts: [8443]')).rules;
    expect(rule?.ports).toEqual([
      { protocol: 'tcp', from: 80, to: 80 },
      { protocol: 'tcp', from: 80, to: 80 },
      { protocol: 'udp', from: 53, to: 53 },
      { protocol: 'sctp', from: 8000, to: 8100 },
    ]);
    expect(rule?.containerPorts).toEqual([{ protocol: 'tcp', from: 8443, to: 8443 }]);
  });

  it('reads a single selector map or a list of selectors under containers', () => {
    expect(policyOf(rule0('containers: { compose: "shop/*", image: "nginx:*" }')).rules[0]?.containers).toEqual([
      { compose: { project: 'shop', service: '*' }, image: 'nginx:*' },
    ]);
    expect(policyOf(rule0('containers: [web, { label: tier }]')).rules[0]?.containers).toEqual([
      { name: 'web' },
      { label: { key: 'tier' } },
    ]);
  });

  it('accepts the same policy written as JSON', () => {
    const json = JSON.stringify({
      version: 1,
      zones: { external: { interfaces: ['eth0'] }, office: { sources: ['198.51.100.0/24'] }, lan: { interfaces: ['eth1'], sources: ['10.0.0.0/8'] } },
      defaults: { published: 'allow' },
      rules: [
        { name: 'public-https', containers: '*', ports: ['443/tcp'], from: ['zone:external', '192.0.2.10'], action: 'allow' },
        { containers: { label: 'com.example.tier=edge' }, containerPorts: ['8443/tcp'], from: ['zone:office'] },
      ],
    });
    expect(policyOf(json)).toEqual(policyOf(ISSUE_EXAMPLE));
  });

  it('reports a problem in a JSON file with the same path as in YAML', () => {
    expect(problems('{"version": 1, "rules": [{"ports": [70000]}]}')).toEqual([
      'policy.yaml: rules[0].ports[0]: port 70000 out of range 1-65535',
    ]);
  });

  it('hashes the file text with sha256', () => {
    const result = parsePolicy('version: 1\n', 'policy.yaml');
    expect(result.ok && result.hash).toBe(policyHash('version: 1\n'));
    expect(policyHash('version: 1\n')).toMatch(/^[0-9a-f]{64}$/);
    expect(policyHash('version: 1\n')).not.toBe(policyHash('version: 1 \n'));
  });
});

describe('a bad policy', () => {
  it('names an unknown zone and the zones that exist', () => {
    const text = `version: 1
zones:
  external: { interfaces: [eth0] }
  office: { sources: [198.51.100.0/24] }
rules:
  - from: [zone:external]
  - from: [zone:offce]
`;
    expect(problems(text)).toEqual(['policy.yaml: rules[1].from[0]: unknown zone "offce" (known zones: external, office)']);
  });

  it('says so when a zone is referenced and no zones are defined', () => {
    expect(problems(rule0('from: [zone:office]'))).toEqual([
      'policy.yaml: rules[0].from[0]: unknown zone "office" (no zones are defined)',
    ]);
  });

  it('suggests zone:NAME when a from entry is a bare zone name', () => {
    const text = 'version: 1\nzones:\n  office: { sources: [198.51.100.0/24] }\nrules:\n  - from: [office, anywhere]\n';
    expect(problems(text)).toEqual([
      'policy.yaml: rules[0].from[0]: "office" is not "any", zone:NAME, network:NAME, an address or a CIDR; did you mean "zone:office"?',
      'policy.yaml: rules[0].from[1]: "anywhere" is not "any", zone:NAME, network:NAME, an address or a CIDR',
    ]);
  });

  it('refuses a bad CIDR in a rule and in a zone', () => {
    const text = `version: 1
zones:
  office: { sources: [198.51.100.0/24, 10.0.0.0/33] }
rules:
  - from: [10.0.0.300, "2001:db8::/129"]
`;
    expect(problems(text)).toEqual([
      'policy.yaml: zones.office.sources[1]: bad CIDR "10.0.0.0/33": the prefix length must be a number from 0 to 32',
      'policy.yaml: rules[0].from[0]: "10.0.0.300" is not an IPv4 or IPv6 address',
      'policy.yaml: rules[0].from[1]: bad CIDR "2001:db8::/129": the prefix length must be a number from 0 to 128',
    ]);
  });

  it('refuses a CIDR with host bits set and suggests the network address', () => {
    expect(problems(rule0('from: [198.51.100.7/24]'))).toEqual([
      'policy.yaml: rules[0].from[0]: 198.51.100.7/24 has host bits set; did you mean 198.51.100.0/24?',
    ]);
    expect(problems('version: 1\nzones:\n  v6: { sources: ["2001:db8::1/64"] }\n')).toEqual([
      'policy.yaml: zones.v6.sources[0]: 2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?',
    ]);
  });

  it('names an unknown key at the top level as its own path, with the keys it knows', () => {
    expect(problems('version: 1\npolicy: strict\n')).toEqual([
      expect.stringMatching(/^policy\.yaml: policy: unknown key "policy" \(known keys: version, zones, defaults, rules, .*\)$/),
    ]);
  });

  it('gives each unknown top-level key its own line, path and guess', () => {
    expect(problems('version: 1\nextra: 1\nrulez: []\n')).toEqual([
      expect.stringMatching(/^policy\.yaml: extra: unknown key "extra" \(known keys: version, zones, defaults, rules, .*\)$/),
      'policy.yaml: rulez: unknown key "rulez" (did you mean "rules"?)',
    ]);
  });

  it('names an unknown key in a rule and guesses the key that was meant', () => {
    const text = 'version: 1\nrules:\n  - ports: [80]\n  - ports: [81]\n  - ports: [82]\n    form: [any]\n';
    expect(problems(text)).toEqual(['policy.yaml: rules[2]: unknown key "form" (did you mean "from"?)']);
  });

  it('names an unknown key in a zone, in defaults and in a selector map', () => {
    const text = `version: 1
zones:
  lan: { interfaces: [eth1], source: [10.0.0.0/8] }
defaults: { published: allow, container: deny }
rules:
  - containers: { names: web }
`;
    expect(problems(text)).toEqual([
      'policy.yaml: zones.lan: unknown key "source" (did you mean "sources"?)',
      'policy.yaml: defaults: unknown key "container" (known keys: published, outbound)',
      'policy.yaml: rules[0].containers: unknown key "names" (did you mean "name"?)',
    ]);
  });

  it('names every unknown key of one map on one line', () => {
    expect(problems(rule0('to: [80]\n    via: eth0'))).toEqual([
      'policy.yaml: rules[0]: unknown keys "to", "via" (known keys: name, containers, ports, containerPorts, from, action, log)',
    ]);
  });

  it('does not let a "__proto__" key slip past the unknown-key check', () => {
    expect(problems('version: 1\n__proto__: { rules: [] }\n')).toEqual([
      expect.stringMatching(/^policy\.yaml: __proto__: unknown key "__proto__" \(known keys: version, zones, defaults, rules, .*\)$/),
    ]);
  });

  it('refuses a port out of range, an empty range and an unknown protocol', () => {
    expect(problems(rule0('ports: [70000, 9000-8000/tcp, 80/icmp]'))).toEqual([
      'policy.yaml: rules[0].ports[0]: port 70000 out of range 1-65535',
      'policy.yaml: rules[0].ports[1]: empty range 9000-8000',
      'policy.yaml: rules[0].ports[2]: unknown protocol "icmp" in "80/icmp" (use tcp, udp or sctp)',
    ]);
  });

  it('refuses bad container ports the same way', () => {
    expect(problems(rule0('containerPorts: [0, http]'))).toEqual([
      'policy.yaml: rules[0].containerPorts[0]: port 0 out of range 1-65535',
      'policy.yaml: rules[0].containerPorts[1]: malformed port "http" (expected N, N/proto or A-B/proto, such as 443/tcp or 8000-8100/udp)',
    ]);
  });

  it('lists the valid actions when an action is wrong', () => {
    expect(problems(rule0('action: permit'))).toEqual([
      'policy.yaml: rules[0].action: must be one of allow, deny, reject (got "permit")',
    ]);
    expect(problems('version: 1\ndefaults: { published: open }\n')).toEqual([
      'policy.yaml: defaults.published: must be one of allow, deny, reject (got "open")',
    ]);
  });

  it('requires version 1', () => {
    expect(problems('rules: []\n')).toEqual(['policy.yaml: version: is required and must be 1']);
    expect(problems('version: 2\n')).toEqual(['policy.yaml: version: must be 1 (got 2)']);
    expect(problems('version: "1"\n')).toEqual(['policy.yaml: version: must be 1 (got "1")']);
  });

  it('refuses a zone with neither interfaces nor sources', () => {
    expect(problems('version: 1\nzones:\n  lan: {}\n')).toEqual(['policy.yaml: zones.lan: a zone needs interfaces, sources or both (or an ipset)']);
  });

  it('still reports an empty zone or selector after a neighbour with an unknown key', () => {
    const text = 'version: 1\nzones:\n  a: { interfce: [eth0] }\n  b: {}\nrules:\n  - containers: [{ nam: x }, {}]\n';
    expect(problems(text)).toEqual([
      'policy.yaml: zones.a: unknown key "interfce" (did you mean "interfaces"?)',
      'policy.yaml: zones.b: a zone needs interfaces, sources or both (or an ipset)',
      'policy.yaml: rules[0].containers[0]: unknown key "nam" (did you mean "name"?)',
      'policy.yaml: rules[0].containers[1]: a selector needs at least one of name, label, compose, image',
    ]);
  });

  it('refuses empty lists, which would silently match nothing', () => {
    const text = 'version: 1\nzones:\n  lan: { interfaces: [] }\nrules:\n  - from: []\n    ports: []\n    containers: []\n';
    expect(problems(text)).toEqual([
      'policy.yaml: zones.lan.interfaces: must not be an empty list',
      'policy.yaml: rules[0].containers: must not be an empty list',
      'policy.yaml: rules[0].ports: must not be an empty list',
      'policy.yaml: rules[0].from: must not be an empty list',
    ]);
  });

  it('refuses bad interface names in a zone', () => {
    expect(problems('version: 1\nzones:\n  x: { interfaces: [averyverylongname0, "eth0:1", "e+th"] }\n')).toEqual([
      'policy.yaml: zones.x.interfaces[0]: interface name "averyverylongname0" is longer than 15 characters',
      'policy.yaml: zones.x.interfaces[1]: interface name "eth0:1" may only hold printable ASCII, without whitespace, "/", ":", quotes or "\\"',
      'policy.yaml: zones.x.interfaces[2]: interface name "e+th" may use "+" only at the end, as a wildcard',
    ]);
  });

  it('refuses rule and zone names that are not safe tokens, because they reach iptables comments', () => {
    const text = 'version: 1\nzones:\n  "my zone": { interfaces: [eth0] }\nrules:\n  - name: "web\\" -j ACCEPT"\n';
    const rule = 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (it is written into iptables comments)';
    expect(problems(text)).toEqual([
      `policy.yaml: zones["my zone"]: zone name "my zone" ${rule}`,
      `policy.yaml: rules[0].name: rule name "web\\" -j ACCEPT" ${rule}`,
    ]);
  });

  it('refuses bad selector forms', () => {
    const text = rule0('containers: [{ compose: shop }, { compose: a/b/c }, { label: "=x" }, {}, "", "/web", { image: "" }, 7, { name: [a] }]');
    expect(problems(text)).toEqual([
      'policy.yaml: rules[0].containers[0].compose: compose selector "shop" must be "project/service" (globs allowed, such as "shop/*")',
      'policy.yaml: rules[0].containers[1].compose: compose selector "a/b/c" must be "project/service" (globs allowed, such as "shop/*")',
      'policy.yaml: rules[0].containers[2].label: label selector "=x" needs a key: "key" or "key=value"',
      'policy.yaml: rules[0].containers[3]: a selector needs at least one of name, label, compose, image',
      'policy.yaml: rules[0].containers[4]: a container name pattern must not be empty',
      'policy.yaml: rules[0].containers[5]: container names have no leading "/": write "web"',
      'policy.yaml: rules[0].containers[6].image: an image pattern must not be empty',
      'policy.yaml: rules[0].containers[7]: must be a string or a map (got 7)',
      'policy.yaml: rules[0].containers[8].name: must be a string (got a list)',
    ]);
    expect(problems(rule0('containers: 42'))).toEqual([
      'policy.yaml: rules[0].containers: must be a string, a map or a list (got 42)',
    ]);
    // A string is one of the forms: what is wrong with this one, not a list of the forms.
    expect(problems(rule0('containers: ""'))).toEqual([
      'policy.yaml: rules[0].containers: a container name pattern must not be empty',
    ]);
  });


  it('refuses values of the wrong shape with what was expected and what was found', () => {
    const text = 'version: 1\nzones: [office]\nrules:\n  - just-a-string\n  - from: any\n';
    expect(problems(text)).toEqual([
      'policy.yaml: zones: must be a map (got a list)',
      'policy.yaml: rules[0]: must be a map (got "just-a-string")',
      'policy.yaml: rules[1].from: must be a list (got "any")',
    ]);
  });

  it('gives the line and column of a YAML syntax error', () => {
    const text = 'version: 1\nrules:\n  - ports: [80, 443\n  - from: [any]\n';
    expect(problems(text)).toEqual([
      'policy.yaml: YAML syntax error at line 4, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('refuses a key given twice instead of letting the last one win', () => {
    expect(problems('version: 1\nrules:\n  - from: [any]\n    from: [zone:x]\n')).toEqual([
      'policy.yaml: YAML syntax error at line 4, column 5: Map keys must be unique',
    ]);
  });

  it('explains an empty file and a document that is not a map', () => {
    expect(problems('')).toEqual(['policy.yaml: the file is empty; a policy needs at least "version: 1"']);
    expect(problems('# only a comment\n')).toEqual(['policy.yaml: the file is empty; a policy needs at least "version: 1"']);
    expect(problems('- version: 1\n')).toEqual([
      'policy.yaml: the document must be a map of version, zones, defaults and rules (got a list)',
    ]);
  });

  it('reports every problem of the file at once, in one line each', () => {
    const text = `version: 2
zones:
  office: { sources: [198.51.100.7/24] }
  lan: {}
defaults: { published: maybe }
rules:
  - name: web
    ports: [70000, 9000-8000]
    from: [zone:offce]
    action: permit
  - containers: { compose: shop }
    form: [any]
`;
    expect(formatIssues('/etc/dockward/policy.yaml', issuesOf(text))).toMatchInlineSnapshot(`
      "/etc/dockward/policy.yaml: version: must be 1 (got 2)
      /etc/dockward/policy.yaml: zones.office.sources[0]: 198.51.100.7/24 has host bits set; did you mean 198.51.100.0/24?
      /etc/dockward/policy.yaml: zones.lan: a zone needs interfaces, sources or both (or an ipset)
      /etc/dockward/policy.yaml: defaults.published: must be one of allow, deny, reject (got "maybe")
      /etc/dockward/policy.yaml: rules[0].ports[0]: port 70000 out of range 1-65535
      /etc/dockward/policy.yaml: rules[0].ports[1]: empty range 9000-8000
      /etc/dockward/policy.yaml: rules[0].from[0]: unknown zone "offce" (known zones: office, lan)
      /etc/dockward/policy.yaml: rules[0].action: must be one of allow, deny, reject (got "permit")
      /etc/dockward/policy.yaml: rules[1].containers.compose: compose selector "shop" must be "project/service" (globs allowed, such as "shop/*")
      /etc/dockward/policy.yaml: rules[1]: unknown key "form" (did you mean "from"?)"
    `);
  });

  it('keeps hostile values on one line in messages', () => {
    const [line, ...rest] = problems(rule0('ports: ["80\\n/etc/dockward/policy.yaml: fine"]'));
    expect(rest).toEqual([]);
    expect(line).toBe(
      'policy.yaml: rules[0].ports[0]: malformed port "80\\n/etc/dockward/policy.yaml: fine" (expected N, N/proto or A-B/proto, such as 443/tcp or 8000-8100/udp)',
    );
  });
});

describe('loadPolicy', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dockward-policy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses the built-in default when no path is given and the default file does not exist', async () => {
    expect(await loadPolicy(undefined, join(dir, 'absent.yaml'))).toEqual({ ok: true, policy: BUILTIN_DEFAULT });
  });

  it('loads the default file when no path is given and it exists', async () => {
    const file = join(dir, 'default.yaml');
    await writeFile(file, 'version: 1\ndefaults: { published: deny }\n');
    const result = await loadPolicy(undefined, file);
    expect(result).toMatchObject({ ok: true, policy: { origin: file, defaults: { published: 'deny' } } });
  });

  it('refuses a named file that does not exist instead of falling back to the default', async () => {
    const file = join(dir, 'missing.yaml');
    expect(await loadPolicy(file)).toEqual({ ok: false, file, issues: [{ path: '', message: 'file not found' }] });
  });

  it('refuses a default path that exists but is not a readable file', async () => {
    expect(await loadPolicy(undefined, dir)).toEqual({
      ok: false,
      file: dir,
      issues: [{ path: '', message: 'is a directory, not a policy file' }],
    });
  });

  it('returns the problems of a named file with its path', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nrules:\n  - action: permit\n');
    const result = await loadPolicy(file);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(formatIssues(result.file, result.issues)).toBe(
        `${file}: rules[0].action: must be one of allow, deny, reject (got "permit")`,
      );
    }
  });

  it('puts the hash of the file text on a loaded policy', async () => {
    const file = join(dir, 'good.yaml');
    await writeFile(file, ISSUE_EXAMPLE);
    expect(await loadPolicy(file)).toMatchObject({ ok: true, hash: policyHash(ISSUE_EXAMPLE) });
  });

  it('has a built-in default with no rules that allows published ports', () => {
    expect(BUILTIN_DEFAULT).toEqual({ version: 1, defaults: { published: 'allow' }, rules: [], origin: 'built-in default' });
  });
});

describe('network:NAME sources', () => {
  it('normalise to a network match, and refuse a name Docker would not accept', () => {
    const good = parsePolicy('version: 1\nrules:\n  - { from: [network:app_net] }\n', 'p.yaml');
    expect(good.ok && good.policy.rules[0]!.from).toEqual([{ network: 'app_net', label: 'network:app_net' }]);
    const bad = parsePolicy('version: 1\nrules:\n  - { from: ["network:-x"] }\n', 'p.yaml');
    expect(bad.ok ? [] : bad.issues).toEqual([{ path: 'rules[0].from[0]', message: '"-x" is not a Docker network name' }]);
  });
});

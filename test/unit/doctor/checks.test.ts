/**
 * doctor's checks on hand-made facts: each condition alone turns its check to FAIL (or
 * warn), and the healthy host stays all ok. Conditions the lab cannot provoke for real
 * (iptables-nft 1.8.2, a missing conntrack, a dockerd out of sight) are covered only here.
 */
import { describe, expect, it } from 'vitest';
import {
  bridgeNetfilter, conntrackPresent, dockerProxy, dockerReachable, dockerRules, expectedHooks, flagValue, hookOrder,
  ipForward, iptablesVersion, otherBackendRules, policyFile, policyValid, runChecks, SYSCTL,
  type BackendFacts, type Facts, type ProcessFact,
} from '../../../src/doctor/checks.js';
import { exitCode, renderJson, renderText } from '../../../src/doctor/report.js';
import { network } from '../../helpers/fixtures.js';

const NS = 'net:[4026532445]';
const OTHER_NS = 'net:[4026531840]';

interface SaveSpec {
  /** Rules put above dockward's hook, by "table/BUILTIN". */
  above?: Record<string, string[]>;
  /** Built-in chain policies, by "table/BUILTIN". */
  policies?: Record<string, string>;
  /** "table/BUILTIN" whose hook is absent. */
  missing?: string[];
  /** More chains to declare, as "table/NAME". */
  chains?: string[];
  /** Appended rules, by "table/CHAIN". */
  rules?: Record<string, string[]>;
  /** No hooks at all (dockward not applied). */
  bare?: boolean;
}

const BUILTINS: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};

/** iptables-save text as the lab shows it after `dockward apply`, with the given changes. */
function saveText(spec: SaveSpec = {}, family: 'ipv4' | 'ipv6' = 'ipv4'): string {
  const hooks = spec.bare ? [] : expectedHooks().filter((h) => h.family === family);
  return Object.entries(BUILTINS).flatMap(([table, builtins]) => [
    `*${table}`,
    ...builtins.map((b) => `:${b} ${spec.policies?.[`${table}/${b}`] ?? 'ACCEPT'} [0:0]`),
    ...hooks.filter((h) => h.table === table).map((h) => `:${h.chain} - [0:0]`),
    ...(spec.chains ?? []).filter((c) => c.startsWith(`${table}/`)).map((c) => `:${c.slice(table.length + 1)} - [0:0]`),
    ...builtins.flatMap((b) => {
      const key = `${table}/${b}`;
      const missing = family === 'ipv4' && spec.missing?.includes(key);
      const own = missing ? [] : hooks.filter((h) => h.table === table && h.builtin === b);
      return [
        ...(family === 'ipv4' ? spec.above?.[key] ?? [] : []).map((r) => `-A ${b} ${r}`),
        ...own.map((h) => `-A ${b} -m comment --comment "DW:0123456789abcdef hook" -j ${h.chain}`),
      ];
    }),
    ...Object.entries(spec.rules ?? {}).filter(([k]) => k.startsWith(`${table}/`)).flatMap(([k, rs]) => rs.map((r) => `-A ${k.slice(table.length + 1)} ${r}`)),
    'COMMIT',
  ]).join('\n');
}

const EMPTY_LEGACY: BackendFacts = { installed: true, version: 'iptables v1.8.9 (legacy)', saves: { ipv4: { text: '' }, ipv6: { text: '' } } };

function backend(spec: SaveSpec, version = 'iptables v1.8.9 (nf_tables)'): BackendFacts {
  return { installed: true, version, saves: { ipv4: { text: saveText(spec) }, ipv6: { text: saveText({ ...spec, rules: {}, chains: [] }, 'ipv6') } } };
}

const DOCKERD: ProcessFact = {
  pid: 100, netns: NS,
  argv: ['/usr/sbin/dockerd', '--config-file', '/run/lab/daemon.json', '--iptables=false', '--ip6tables=false', '--userland-proxy=false'],
};

function proxy(pid: number, port: number, netns = NS): ProcessFact {
  return { pid, netns, argv: ['/usr/sbin/docker-proxy', '-proto', 'tcp', '-host-ip', '0.0.0.0', '-host-port', String(port), '-container-ip', '172.17.0.2', '-container-port', '80'] };
}

const root = (path: string, mode: number) => ({ path, mode, uid: 0 });

/** A healthy lab host after `dockward apply`. */
function facts(over: Partial<Facts> = {}): Facts {
  return {
    backend: 'nft',
    backendChosenBy: 'detection',
    backends: { nft: backend({}), legacy: EMPTY_LEGACY },
    sysctls: { [SYSCTL.ipForward]: '1', [SYSCTL.ip6Forward]: '1', [SYSCTL.bridgeNf]: '1', [SYSCTL.bridgeNf6]: '1' },
    ownNetns: NS,
    processes: [DOCKERD],
    daemonConfig: { path: '/run/lab/daemon.json', state: 'read', values: {} },
    docker: { host: 'unix:///run/lab/d.sock', reachable: true, version: '20.10.24', networks: [network(1)] },
    policy: { path: '/etc/dockward/policy.yaml', explicit: false, state: 'absent' },
    conntrack: '/usr/sbin/conntrack',
    ...over,
  };
}

function policyAt(mode: number, uid = 0, dirs = [root('/etc/dockward', 0o40755), root('/etc', 0o40755), root('/', 0o40755)]): Partial<Facts> {
  return { policy: { path: '/etc/dockward/policy.yaml', explicit: true, state: 'present', file: { path: '/etc/dockward/policy.yaml', mode, uid }, dirs, problems: [] } };
}

describe('doctor: a healthy host', () => {
  it('passes every check, and says why in one line each', () => {
    const results = runChecks(facts());
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(exitCode(results)).toBe(0);
    const text = renderText(results);
    expect(text.split('\n').filter((l) => l.startsWith('ok   '))).toHaveLength(results.length);
    expect(text).toMatch(/\nhealthy\n$/);
    expect(JSON.parse(renderJson(results))).toMatchObject({ healthy: true, checks: expect.any(Array) });
  });
});

describe('doctor: 1. Docker writing its own rules', () => {
  it('FAILs on Docker chains in the live rules of the chosen backend, naming them', () => {
    const dockerChains = backend({ chains: ['filter/DOCKER', 'filter/DOCKER-ISOLATION-STAGE-1', 'nat/DOCKER'] });
    const on = { ...DOCKERD, argv: ['/usr/sbin/dockerd', '--iptables=true'] };
    const r = dockerRules(facts({ processes: [on], backends: { nft: dockerChains, legacy: EMPTY_LEGACY } }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.summary).toMatch(/^Docker writes its own rules/);
    expect(r.details).toEqual(expect.arrayContaining(['ipv4 filter/DOCKER', 'ipv4 filter/DOCKER-ISOLATION-STAGE-1', 'ipv4 nat/DOCKER']));
    expect(r.fix).toMatch(/"iptables": false.*"ip6tables": false.*daemon\.json/);
    // With dockerd's rules off, the same chains are leftovers: still FAIL, with the fix that removes them.
    const leftovers = dockerRules(facts({ backends: { nft: dockerChains, legacy: EMPTY_LEGACY } }));
    expect(leftovers).toMatchObject({ ok: false, severity: 'fail' });
    expect(leftovers.summary).toMatch(/leftovers/);
    expect(leftovers.fix).toMatch(/-X CHAIN/);
  });

  it('does not count DOCKER-USER alone (the user\'s chain) nor DOCKER-FORWARD\'s absence', () => {
    expect(dockerRules(facts({ backends: { nft: backend({ chains: ['filter/DOCKER-USER'] }), legacy: EMPTY_LEGACY } })).ok).toBe(true);
    expect(dockerRules(facts({ backends: { nft: backend({ chains: ['filter/DOCKER-FORWARD'] }), legacy: EMPTY_LEGACY } })).ok).toBe(false);
  });

  it('FAILs when dockerd runs with --iptables=true (the last flag wins), before it has written anything', () => {
    const r = dockerRules(facts({ processes: [{ ...DOCKERD, argv: [...DOCKERD.argv, '--iptables=true'] }] }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.summary).toMatch(/--iptables=true/);
  });

  it('FAILs when the daemon.json dockerd reads says "iptables": true, or does not say (Docker\'s default is on)', () => {
    const argv = ['/usr/sbin/dockerd', '-H', 'fd://'];
    const explicit = dockerRules(facts({ processes: [{ pid: 1, netns: NS, argv }], daemonConfig: { path: '/etc/docker/daemon.json', state: 'read', values: { iptables: true } } }));
    expect(explicit).toMatchObject({ ok: false, severity: 'fail' });
    expect(explicit.summary).toMatch(/"iptables": true/);
    const missing = dockerRules(facts({ processes: [{ pid: 1, netns: NS, argv }], daemonConfig: { path: '/etc/docker/daemon.json', state: 'read', values: {} } }));
    expect(missing).toMatchObject({ ok: false, severity: 'fail' });
    expect(missing.summary).toMatch(/does not set "iptables"/);
    const good = dockerRules(facts({ processes: [{ pid: 1, netns: NS, argv }], daemonConfig: { path: '/etc/docker/daemon.json', state: 'read', values: { iptables: false, ip6tables: false } } }));
    expect(good.ok).toBe(true);
  });

  it('FAILs on "ip6tables": true', () => {
    const r = dockerRules(facts({ daemonConfig: { path: '/run/lab/daemon.json', state: 'read', values: { ip6tables: true } }, processes: [{ ...DOCKERD, argv: ['/usr/sbin/dockerd', '--iptables=false'] }] }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.summary).toMatch(/ip6tables/);
  });

  it('only warns when no dockerd runs in this network namespace and daemon.json is silent (remote or namespaced Docker)', () => {
    const r = dockerRules(facts({ processes: [{ ...DOCKERD, netns: OTHER_NS, argv: ['/usr/sbin/dockerd', '--iptables=true'] }], daemonConfig: { path: '/etc/docker/daemon.json', state: 'absent' } }));
    expect(r).toMatchObject({ ok: false, severity: 'warn' });
    expect(r.summary).toMatch(/not visible/);
  });
});

describe('doctor: 2. docker-proxy', () => {
  it('FAILs on docker-proxy processes in this network namespace, listing their ports', () => {
    const r = dockerProxy(facts({ processes: [DOCKERD, proxy(200, 8080), proxy(201, 8443)] }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.details).toEqual(['pid 200: 0.0.0.0:8080/tcp', 'pid 201: 0.0.0.0:8443/tcp']);
    expect(r.fix).toMatch(/"userland-proxy": false/);
  });

  it('ignores docker-proxy processes of other network namespaces (another host, a lab)', () => {
    expect(dockerProxy(facts({ processes: [DOCKERD, proxy(200, 8080, OTHER_NS)] })).ok).toBe(true);
  });

  it('FAILs when userland-proxy is on by default and no container publishes yet', () => {
    const r = dockerProxy(facts({ processes: [{ ...DOCKERD, argv: ['/usr/sbin/dockerd', '--iptables=false'] }] }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.summary).toMatch(/userland-proxy is on/);
  });
});

describe('doctor: 3. rules in the other backend', () => {
  it('FAILs on DOCKWARD or Docker chains in the backend not in use', () => {
    const legacy = { ...EMPTY_LEGACY, saves: { ipv4: { text: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:DOCKWARD-X - [0:0]\nCOMMIT' }, ipv6: { text: '' } } };
    const r = otherBackendRules(facts({ backends: { nft: backend({}), legacy } }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.details).toEqual(['ipv4 filter/DOCKWARD-X']);
    expect(r.fix).toMatch(/update-alternatives.*--backend/);
  });

  it('FAILs on rules or a DROP policy where dockward hooks, only warns on rules elsewhere', () => {
    const withForward = { ...EMPTY_LEGACY, saves: { ipv4: { text: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT' }, ipv6: { text: '' } } };
    const r = otherBackendRules(facts({ backends: { nft: backend({}), legacy: withForward } }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.details).toEqual(['ipv4 filter/FORWARD: 1 rule(s)', 'ipv4 filter/FORWARD: policy DROP']);
    const withInput = { ...EMPTY_LEGACY, saves: { ipv4: { text: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT' }, ipv6: { text: '' } } };
    expect(otherBackendRules(facts({ backends: { nft: backend({}), legacy: withInput } }))).toMatchObject({ ok: false, severity: 'warn' });
  });

  it('judges nft when legacy is in use', () => {
    const r = otherBackendRules(facts({ backend: 'legacy', backends: { legacy: backend({}), nft: backend({}) } }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.summary).toMatch(/the nft backend holds/);
  });

  it('is fine when the other backend is not installed', () => {
    expect(otherBackendRules(facts({ backends: { nft: backend({}), legacy: { installed: false, saves: { ipv4: {}, ipv6: {} } } } })).ok).toBe(true);
  });
});

describe('doctor: 4. ip_forward', () => {
  it('FAILs when IPv4 forwarding is off or unreadable', () => {
    const r = ipForward(facts({ sysctls: { ...facts().sysctls, [SYSCTL.ipForward]: '0' } }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.summary).toMatch(/net\.ipv4\.ip_forward is 0: containers cannot reach out and published ports are not forwarded/);
    expect(r.fix).toMatch(/sysctl -w net\.ipv4\.ip_forward=1/);
    expect(ipForward(facts({ sysctls: {} })).ok).toBe(false);
  });

  it('FAILs when IPv6 forwarding is off while a network has IPv6, not otherwise', () => {
    const sysctls = { ...facts().sysctls, [SYSCTL.ip6Forward]: '0' };
    expect(ipForward(facts({ sysctls })).ok).toBe(true);
    const six = network(2, { subnets: [{ family: 'ipv6', cidr: 'fd00:1::/64' }] });
    const docker = { host: 'x', reachable: true as const, version: '20.10', networks: [six] };
    expect(ipForward(facts({ sysctls, docker }))).toMatchObject({ ok: false, severity: 'fail' });
  });
});

describe('doctor: 5. bridge netfilter', () => {
  const noIcc = network(2, { name: 'quiet', options: { 'com.docker.network.bridge.enable_icc': 'false' } });
  const docker = { host: 'x', reachable: true as const, version: '20.10', networks: [network(1), noIcc] };

  it('FAILs, saying plainly that ICC off is not enforced, when bridge-nf-call-iptables is 0 or missing and a network has ICC off', () => {
    for (const value of ['0', undefined]) {
      const r = bridgeNetfilter(facts({ docker, sysctls: { ...facts().sysctls, [SYSCTL.bridgeNf]: value } }));
      expect(r).toMatchObject({ ok: false, severity: 'fail' });
      expect(r.summary).toMatch(/ICC off is NOT enforced on quiet \(br-222222222222\)/);
      expect(r.fix).toMatch(/modprobe br_netfilter; sysctl -w net\.bridge\.bridge-nf-call-iptables=1/);
    }
  });

  it('only warns when no network has ICC off (hairpin between containers of one bridge still breaks)', () => {
    const r = bridgeNetfilter(facts({ sysctls: { ...facts().sysctls, [SYSCTL.bridgeNf]: '0' } }));
    expect(r).toMatchObject({ ok: false, severity: 'warn' });
    expect(r.summary).toMatch(/published port/);
  });

  it('is fine with bridge-nf-call-iptables = 1 and ICC off networks', () => {
    expect(bridgeNetfilter(facts({ docker })).summary).toMatch(/= 1: ICC off is enforceable \(1 network/);
  });
});

describe('doctor: 6. hooks and foreign rules above them', () => {
  it('FAILs on a foreign rule above dockward\'s FORWARD hook, quoting it', () => {
    const r = hookOrder(facts({ backends: { nft: backend({ above: { 'filter/FORWARD': ['-j ACCEPT'] } }), legacy: EMPTY_LEGACY } }));
    expect(r).toMatchObject({ ok: false, severity: 'fail' });
    expect(r.details).toEqual(["ipv4 filter/FORWARD rule 1, above dockward's hook: -j ACCEPT"]);
  });

  it('FAILs on foreign rules above the nat, mangle and raw hooks too', () => {
    for (const key of ['nat/PREROUTING', 'nat/OUTPUT', 'nat/POSTROUTING', 'mangle/PREROUTING', 'mangle/POSTROUTING', 'raw/PREROUTING']) {
      const r = hookOrder(facts({ backends: { nft: backend({ above: { [key]: ['-p tcp -j RETURN'] } }), legacy: EMPTY_LEGACY } }));
      expect(r.ok, key).toBe(false);
    }
  });

  it('allows DOCKER-USER\'s jump first in FORWARD (the parity order)', () => {
    expect(hookOrder(facts({ backends: { nft: backend({ above: { 'filter/FORWARD': ['-j DOCKER-USER'] } }), legacy: EMPTY_LEGACY } })).ok).toBe(true);
  });

  it('reports a FORWARD policy of DROP as fine, not as a failure', () => {
    const r = hookOrder(facts({ backends: { nft: backend({ policies: { 'filter/FORWARD': 'DROP' } }), legacy: EMPTY_LEGACY } }));
    expect(r).toMatchObject({ ok: true, severity: 'info' });
    expect(r.summary).toMatch(/FORWARD policy DROP \(fine/);
  });

  it('FAILs when dockward is not applied, or when one hook is gone', () => {
    const bare = hookOrder(facts({ backends: { nft: backend({ bare: true }), legacy: EMPTY_LEGACY } }));
    expect(bare.summary).toMatch(/not applied/);
    expect(bare.fix).toMatch(/dockward apply/);
    const one = hookOrder(facts({ backends: { nft: backend({ missing: ['nat/PREROUTING'] }), legacy: EMPTY_LEGACY } }));
    expect(one).toMatchObject({ ok: false, severity: 'fail' });
    expect(one.details).toEqual(['ipv4 nat/PREROUTING: no dockward hook']);
  });

  it('does not take a tagged jump to another chain, or an untagged jump, for the hook', () => {
    const fake = backend({ missing: ['filter/FORWARD'], above: { 'filter/FORWARD': ['-j DOCKWARD-FORWARD'] } });
    expect(hookOrder(facts({ backends: { nft: fake, legacy: EMPTY_LEGACY } })).ok).toBe(false);
  });
});

describe('doctor: 7. the policy file', () => {
  it('FAILs on a file writable by group or others, or owned by a non-root user', () => {
    for (const [mode, uid, why] of [[0o100666, 0, /writable by others \(mode 0666\)/], [0o100664, 0, /writable by its group/], [0o100644, 1000, /owned by uid 1000/]] as const) {
      const r = policyFile(facts(policyAt(mode, uid)));
      expect(r).toMatchObject({ ok: false, severity: 'fail' });
      expect(r.details?.join('\n')).toMatch(why);
      expect(r.fix).toMatch(/chown root:root .* chmod 0644/);
    }
  });

  it('FAILs on a directory above it that a non-root user can write; a sticky /tmp is fine', () => {
    const open = policyAt(0o100644, 0, [root('/srv/dw', 0o40777), root('/srv', 0o40755), root('/', 0o40755)]);
    expect(policyFile(facts(open)).details).toEqual(['/srv/dw is writable by others (mode 0777)']);
    const owned = policyAt(0o100644, 0, [{ path: '/home/u', mode: 0o40755, uid: 1000 }, root('/', 0o40755)]);
    expect(policyFile(facts(owned)).ok).toBe(false);
    const tmp = policyAt(0o100644, 0, [root('/tmp/dw-x', 0o40700), root('/tmp', 0o41777), root('/', 0o40755)]);
    expect(policyFile(facts(tmp)).ok).toBe(true);
  });

  it('is fine with no file at the default path (the built-in default), and FAILs on a missing --policy file', () => {
    expect(policyFile(facts()).summary).toMatch(/built-in default is in force/);
    expect(policyFile(facts({ policy: { path: '/x.yaml', explicit: true, state: 'absent' } })).ok).toBe(false);
  });

  it('FAILs on a policy dockward would refuse, listing the problems', () => {
    const p = policyAt(0o100644);
    const bad = { policy: { ...(p.policy as Extract<Facts['policy'], { state: 'present' }>), problems: ['/etc/dockward/policy.yaml: version: required'] } };
    expect(policyValid(facts(bad))).toMatchObject({ ok: false, severity: 'fail', details: ['/etc/dockward/policy.yaml: version: required'] });
    expect(policyValid(facts(p)).ok).toBe(true);
  });
});

describe('doctor: the cheap extras', () => {
  it('refuses iptables-nft 1.8.0-1.8.2, not legacy 1.8.2 nor nft 1.8.3', () => {
    const at = (b: 'nft' | 'legacy', v: string) => iptablesVersion(facts({ backend: b, backends: { nft: backend({}, v), legacy: backend({}, v) } }));
    expect(at('nft', 'iptables v1.8.2 (nf_tables)')).toMatchObject({ ok: false, severity: 'fail' });
    expect(at('nft', 'iptables v1.8.0 (nf_tables)').ok).toBe(false);
    expect(at('nft', 'iptables v1.8.3 (nf_tables)').ok).toBe(true);
    expect(at('legacy', 'iptables v1.8.2 (legacy)').ok).toBe(true);
    expect(iptablesVersion(facts({ backends: { nft: { installed: false, saves: { ipv4: {}, ipv6: {} } }, legacy: EMPTY_LEGACY } })).ok).toBe(false);
  });

  it('warns (exit 0) when conntrack is missing', () => {
    const { conntrack: _c, ...rest } = facts();
    const r = conntrackPresent(rest);
    expect(r).toMatchObject({ ok: false, severity: 'warn' });
    expect(exitCode(runChecks(rest))).toBe(0);
    expect(renderText(runChecks(rest))).toMatch(/^warn conntrack: .*\n {5}fix: install the conntrack package/m);
  });

  it('FAILs when Docker does not answer', () => {
    expect(dockerReachable(facts({ docker: { host: 'unix:///nope', reachable: false, error: 'connect ENOENT' } }))).toMatchObject({ ok: false, severity: 'fail' });
  });
});

describe('doctor: output', () => {
  it('prints FAIL with the specifics and an indented fix, and exits 1', () => {
    const results = runChecks(facts({ sysctls: { ...facts().sysctls, [SYSCTL.ipForward]: '0' } }));
    expect(exitCode(results)).toBe(1);
    expect(renderText(results)).toMatch(/^FAIL ip-forward: .*\n {5}fix: sysctl -w net\.ipv4\.ip_forward=1/m);
    expect(renderText(results)).toMatch(/\n1 check\(s\) failed\n$/);
    expect(JSON.parse(renderJson(results)).healthy).toBe(false);
  });

  it('reads dockerd-style flags: --name=value, bare --name, --name value for valued flags; the last wins', () => {
    expect(flagValue(['dockerd', '--iptables=false', '--iptables'], 'iptables', false)).toBe('true');
    expect(flagValue(['dockerd', '--config-file', '/x.json'], 'config-file', true)).toBe('/x.json');
    expect(flagValue(['docker-proxy', '-host-port', '80'], 'host-port', true)).toBe('80');
    expect(flagValue(['dockerd'], 'iptables', false)).toBeUndefined();
  });
});

/**
 * What users found explain getting wrong: loopback and routed publications, the host's
 * place in the access list, the host address an outside client dials, and a reject that
 * a container never sees.
 */
import { describe, expect, it } from 'vitest';
import { explain, parseFrom, renderText, type ExplainInput, type HostAddress } from '../../../src/explain/index.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { container, inventory, network, policy, tcp } from '../../helpers/fixtures.js';

const HOST: HostAddress[] = [
  { iface: 'lo', address: '127.0.0.1', cidr: '127.0.0.1/8' },
  { iface: 'ext0', address: '198.51.100.1', cidr: '198.51.100.1/24' },
  { iface: 'docker0', address: '172.17.0.1', cidr: '172.17.0.1/16' },
];

const bridge = network(1);
const routedNet = network(2, { options: { 'com.docker.network.bridge.gateway_mode_ipv4': 'routed' } });
const appnet = network(3);
const local = container(1, bridge, [tcp(8081, 81, '127.0.0.1')], { name: 'local' });
const routed = container(2, routedNet, [tcp(8080, 80)], { name: 'routed' });
const web = container(3, appnet, [tcp(8443, 443), tcp(8444, 443)], { name: 'web' });
const INVENTORY = inventory([bridge, routedNet, appnet], [local, routed, web]);

const POLICY = policy(`version: 1
defaults: { published: deny }
rules:
  - { name: no-containers, ports: [8443], from: [172.17.0.0/16], action: reject }
  - { name: outside, from: [zone:ext], action: allow }
  - { name: pest, from: [198.51.100.9], action: reject }
  - { name: bridge-in, ports: [8444], from: [network:bridge], action: allow }
zones:
  ext: { interfaces: [ext0] }
`);

function ask(name: string, from?: string, input: Partial<ExplainInput> = {}) {
  return explain({ inventory: INVENTORY, policy: POLICY, host: HOST, container: name, ...(from ? { from: parseFrom(from) } : {}), ...input });
}

const bugs = (warnings: readonly string[]) => warnings.filter((w) => w.includes('bug in dockward'));

describe('a port published on 127.0.0.1', () => {
  it('is the host\'s alone, in words, with no access list and no warning, under the built-in default and a policy', () => {
    for (const pol of [BUILTIN_DEFAULT, POLICY]) {
      const e = ask('local', undefined, { policy: pol });
      expect(e.warnings, pol.origin).toEqual([]);
      expect(e.bindings).toHaveLength(1);
      const b = e.bindings[0]!;
      expect(b).toMatchObject({ loopback: true, lines: [], fromHost: { allowed: true, decidedBy: { kind: 'host' } } });
      expect(b.summary).toBe("only the host itself: neighbours' packets to 127.0.0.0/8 are dropped in raw (dockward's loopback rule), so the policy's rules do not come into it");
      const text = renderText(e);
      expect(text).not.toContain('everyone');
      expect(text).not.toContain('first match wins:\n    zone');
    }
  });

  it('a neighbour is dropped by the loopback rule; the host itself gets in', () => {
    expect(ask('local', '198.51.100.7@ext0').bindings[0]?.answer).toMatchObject({
      destination: '127.0.0.1', port: 8081, allowed: false, verdict: 'dropped', decidedBy: { kind: 'dockward', note: 'loopback' },
    });
    expect(renderText(ask('local', '198.51.100.7@ext0'))).toContain("refused: dropped by dockward's loopback rule (raw: nothing from outside the host reaches 127.0.0.0/8)");
    expect(ask('local', 'host').bindings[0]?.answer).toMatchObject({ destination: '127.0.0.1', allowed: true, deliveredTo: { address: '172.17.0.2', port: 81 } });
  });
});

describe('a port published on a routed network', () => {
  it('is dialled at the container\'s address and port, judged by the policy, with no warning', () => {
    for (const pol of [BUILTIN_DEFAULT, POLICY]) expect(bugs(ask('routed', undefined, { policy: pol }).warnings), pol.origin).toEqual([]);
    const allowed = ask('routed', '198.51.100.7@ext0').bindings[0]!;
    expect(allowed).toMatchObject({ routed: { network: 'net2' } });
    expect(allowed.answer).toMatchObject({ destination: '172.18.0.3', port: 80, allowed: true, verdict: 'delivered', decidedBy: { kind: 'rule', index: 1 } });
    expect(ask('routed', '198.51.100.9@eth7').bindings[0]?.answer).toMatchObject({ destination: '172.18.0.3', port: 80, allowed: false, verdict: 'rejected', decidedBy: { kind: 'rule', index: 2 } });
    expect(ask('routed', '192.0.2.77@eth7').bindings[0]?.answer).toMatchObject({ allowed: false, verdict: 'dropped', decidedBy: { kind: 'default' } });
    expect(ask('routed', 'host').bindings[0]?.answer).toMatchObject({ destination: '172.18.0.3', port: 80, allowed: true });
    // Routed ignores the host address, loopback too: the container's address is dialled.
    const onLoopback = inventory([routedNet], [container(2, routedNet, [tcp(8082, 82, '127.0.0.1')], { name: 'routed' })]);
    const lo = ask('routed', '198.51.100.7@ext0', { inventory: onLoopback });
    expect(bugs(lo.warnings)).toEqual([]);
    expect(lo.bindings[0]).toMatchObject({ lines: expect.arrayContaining([expect.anything()]), answer: { destination: '172.18.0.3', port: 82, allowed: true } });
    expect(lo.bindings[0]?.loopback).toBeUndefined();
    expect(renderText(ask('routed'))).toContain("80/tcp at 172.18.0.3 (routed network net2: no NAT, clients dial the container's address; host port 8080 is not used) → routed:80: ");
  });
});

describe('the host itself in the access list', () => {
  it('stands before the first-match list, apart from it: rules do not govern it', () => {
    const text = renderText(ask('web'));
    const block = text.slice(text.indexOf('8443/tcp on every host address'));
    const lines = block.split('\n').slice(1, 7);
    expect(lines).toEqual([
      '  the host itself (not governed by rules): allow by the host exemption (no host.toContainers rule decides: the host reaches containers, as with Docker)',
      "  other sources (the policy's rules), first match wins:",
      '    172.17.0.0/16    reject  rules[0] no-containers',
      '    zone:ext (ext0)  allow   rules[1] outside',
      '    198.51.100.9     reject  rules[2] pest',
      '    everyone else    deny    defaults.published',
    ]);
  });
});

describe('the host address an outside client dials', () => {
  it('is never a bridge gateway, even of a bridge the inventory does not list', () => {
    const host: HostAddress[] = [HOST[0]!, HOST[2]!, { iface: 'eth0', address: '192.0.2.2', cidr: '192.0.2.2/24' }];
    const inv = inventory([appnet], [web]);
    // Arriving on a link with no host address of its own: the dialled address is worked out, not taken from the link.
    const e = ask('web', '198.51.100.7@ext9', { inventory: inv, host });
    expect(e.bindings[0]?.answer?.destination).toBe('192.0.2.2');
    expect(e.warnings).toEqual([]);
  });

  it('without any such address, a stand-in that is said to be one', () => {
    const e = ask('web', '198.51.100.7@eth0', { host: [HOST[0]!] });
    expect(e.bindings[0]?.answer).toMatchObject({ destination: '192.0.2.1', allowed: false });
    expect(e.warnings).toEqual(['this host has no IPv4 address outside the container networks that a client could dial: traced as dialling 192.0.2.1, a stand-in for one']);
  });
});

describe('a reject for a container dialling a published port through a host address', () => {
  it('is a timeout for the container (the reset leaves by the bridge port untranslated), a reset for others', () => {
    const e = ask('web', '172.17.0.9');
    expect(e.from).toMatchObject({ iface: 'docker0', how: 'container network' });
    expect(e.bindings[0]?.answer).toMatchObject({ allowed: false, verdict: 'dropped', rejectUnseen: 'tcp-reset', decidedBy: { kind: 'rule', index: 0 } });
    expect(e.bindings[0]?.answer?.rejectWith).toBeUndefined();
    expect(renderText(e)).toContain('from 172.17.0.9 on docker0 to 172.17.0.1:8443: refused (dropped: a container gets no reset here, see README Limitations) by rules[0] no-containers');
    // The positive control: the same container through the same address to a port it may use, named by its rule
    // (not by the masquerade on its way out of its bridge).
    expect(e.bindings[1]?.answer).toMatchObject({ destination: '172.17.0.1', port: 8444, allowed: true, decidedBy: { kind: 'rule', index: 3, name: 'bridge-in' } });
    // The same rule for a source outside: a reset it does see.
    expect(ask('web', '172.17.0.9@ext0').bindings[0]?.answer).toMatchObject({ verdict: 'rejected', rejectWith: 'tcp-reset', decidedBy: { kind: 'rule', index: 0 } });
    expect(ask('web', '198.51.100.9@eth7').bindings[0]?.answer).toMatchObject({ verdict: 'rejected', rejectWith: 'tcp-reset', decidedBy: { kind: 'rule', index: 2 } });
  });
});

/**
 * Taking over from Docker's own rules, from saved rules as Docker left them (iptables-save
 * form, shapes from shared/reference/docker-native-rules.md and moby's code): rules that
 * name no bridge (Docker 28.0.0's ipset accept, the SCTP checksum rule) and the IPv6
 * family's leftovers. Look-alikes that are not Docker's stay.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { parseSave } from '../../../src/ruleset/parse.js';
import { planRestore } from '../../../src/ruleset/plan.js';
import { dockerLeftovers } from '../../../src/ruleset/takeover.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { container, inventory, network, tcp } from '../../helpers/fixtures.js';

/** Docker 28.0.0 (ipset generation), IPv4, one container on docker0 publishing 8080 and 3868/sctp. */
const DOCKER_28_0_0 = [
  '*mangle', ':PREROUTING ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
  '-A POSTROUTING -p sctp -m sctp --sport 3868 -j CHECKSUM --checksum-fill',
  // libvirt's DHCP checksum rule: same target, not Docker's.
  '-A POSTROUTING -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill',
  'COMMIT',
  '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]',
  ':DOCKER - [0:0]', ':DOCKER-ISOLATION-STAGE-1 - [0:0]', ':DOCKER-ISOLATION-STAGE-2 - [0:0]', ':DOCKER-USER - [0:0]',
  '-A FORWARD -j DOCKER-USER',
  '-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
  '-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j DOCKER',
  '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
  '-A FORWARD -i docker0 -o docker0 -j ACCEPT',
  // An operator's own ipset accept: not Docker's set.
  '-A FORWARD -m set --match-set lan-hosts dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A DOCKER ! -i docker0 -o docker0 -j DROP',
  '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
  '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
  'COMMIT',
].join('\n');

/** Docker 28.5 with ip6tables on, IPv6: one container fd00:d0c::2 on docker0 publishing 8080. */
const DOCKER_28_IPV6 = [
  '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
  '-A PREROUTING -d fd00:d0c::2/128 ! -i docker0 -j DROP',
  'COMMIT',
  '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]',
  ':DOCKER - [0:0]', ':DOCKER-BRIDGE - [0:0]', ':DOCKER-CT - [0:0]', ':DOCKER-FORWARD - [0:0]',
  ':DOCKER-ISOLATION-STAGE-1 - [0:0]', ':DOCKER-ISOLATION-STAGE-2 - [0:0]', ':DOCKER-USER - [0:0]',
  '-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-FORWARD', '-A FORWARD -i eth1 -j ACCEPT',
  '-A DOCKER -d fd00:d0c::2/128 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT',
  '-A DOCKER ! -i docker0 -o docker0 -j DROP',
  '-A DOCKER-BRIDGE -o docker0 -j DOCKER',
  '-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A DOCKER-FORWARD -j DOCKER-CT', '-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1', '-A DOCKER-FORWARD -j DOCKER-BRIDGE',
  '-A DOCKER-FORWARD -i docker0 -j ACCEPT',
  '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
  '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
  '-A DOCKER-USER -s 2001:db8:66::/48 -j DROP',
  'COMMIT',
  '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':DOCKER - [0:0]',
  '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
  '-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER',
  '-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE',
  '-A POSTROUTING -s fd00:d0c::/64 ! -o docker0 -j MASQUERADE',
  '-A POSTROUTING -s fd00:d0c::2/128 -d fd00:d0c::2/128 -p tcp -m tcp --dport 80 -j MASQUERADE',
  '-A POSTROUTING -s 2001:db8:9::/64 -o eth0 -j MASQUERADE',
  '-A DOCKER ! -s fe80::/10 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:d0c::2]:80',
  'COMMIT',
].join('\n');

describe('Docker leftovers that name no bridge', () => {
  const live = parseSave(DOCKER_28_0_0);

  it('Docker 28.0.0\'s ipset rules in FORWARD: the reply accept and the jump, not an operator\'s set', () => {
    const rules = dockerLeftovers('filter', live, ['docker0']).rules.map((r) => r.text);
    expect(rules).toContain('-m set --match-set docker-ext-bridges-v4 dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
    expect(rules).toContain('-m set --match-set docker-ext-bridges-v4 dst -j DOCKER');
    expect(rules).not.toContain('-m set --match-set lan-hosts dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  });

  it('the SCTP checksum rule in mangle POSTROUTING, not another tool\'s checksum rule', () => {
    const { rules, chains } = dockerLeftovers('mangle', live, ['docker0']);
    expect(rules).toEqual([{ chain: 'POSTROUTING', text: '-p sctp -m sctp --sport 3868 -j CHECKSUM --checksum-fill' }]);
    expect(chains).toEqual([]);
  });

  it('are removed also when Docker has no bridge left that dockward knows of', () => {
    expect(dockerLeftovers('mangle', live, []).rules).toHaveLength(1);
    expect(dockerLeftovers('filter', live, []).rules.map((r) => r.text)).toContain(
      '-m set --match-set docker-ext-bridges-v4 dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  });

  it('an apply leaves none of them, and keeps the operator\'s rules', async () => {
    const net = network(1);
    const [v4] = compile(inventory([net], [container(1, net, [tcp(8080, 80)])]), BUILTIN_DEFAULT).rulesets;
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', DOCKER_28_0_0);
    await kernel.restore('ipv4', planRestore(v4!, parseSave(await kernel.save('ipv4'))).text);
    const text = await kernel.save('ipv4');
    expect(text).not.toContain('docker-ext-bridges');
    expect(text).not.toContain('sctp');
    expect(text).not.toMatch(/^:DOCKER(-ISOLATION-STAGE-[12])? /m);
    expect(text).toContain('-A POSTROUTING -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill');
    expect(text).toContain('-A FORWARD -m set --match-set lan-hosts dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  });
});

describe('Docker leftovers in IPv6', () => {
  const net = network(1, { subnets: [{ family: 'ipv4', cidr: '172.17.0.0/16' }, { family: 'ipv6', cidr: 'fd00:d0c::/64' }] });
  const web = container(1, net, [tcp(8080, 80), tcp(8080, 80, '::')], { endpoints: [{ networkId: net.id, networkName: 'bridge', ipv4: '172.17.0.2', ipv6: 'fd00:d0c::2' }] });
  const v6 = compile(inventory([net], [web]), BUILTIN_DEFAULT).rulesets.find((r) => r.family === 'ipv6')!;

  it('are found in every table by their IPv6 shapes', () => {
    const live = parseSave(DOCKER_28_IPV6);
    expect(dockerLeftovers('raw', live, ['docker0']).rules.map((r) => r.text)).toEqual(['-d fd00:d0c::2/128 ! -i docker0 -j DROP']);
    expect(dockerLeftovers('nat', live, ['docker0']).rules.map((r) => r.text)).toEqual([
      '-m addrtype --dst-type LOCAL -j DOCKER', '-m addrtype --dst-type LOCAL -j DOCKER',
      '-o docker0 -m addrtype --src-type LOCAL -j MASQUERADE', '-s fd00:d0c::/64 ! -o docker0 -j MASQUERADE',
      '-s fd00:d0c::2/128 -d fd00:d0c::2/128 -p tcp -m tcp --dport 80 -j MASQUERADE',
    ]);
    const filter = dockerLeftovers('filter', live, ['docker0']);
    expect(filter.rules.map((r) => r.text)).toEqual(['-j DOCKER-USER', '-j DOCKER-FORWARD']);
    expect(filter.chains).toEqual(['DOCKER', 'DOCKER-BRIDGE', 'DOCKER-CT', 'DOCKER-FORWARD', 'DOCKER-ISOLATION-STAGE-1', 'DOCKER-ISOLATION-STAGE-2']);
  });

  it('an IPv6 apply removes them, keeps DOCKER-USER with its rules and the operator\'s own, and publishes', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv6', DOCKER_28_IPV6);
    await kernel.restore('ipv6', planRestore(v6, parseSave(await kernel.save('ipv6'))).text);
    const text = await kernel.save('ipv6');
    expect(text).not.toMatch(/^:DOCKER(-FORWARD|-CT|-BRIDGE|-ISOLATION-STAGE-[12])? /m);
    expect(text).not.toContain('-A PREROUTING -d fd00:d0c::2/128 ! -i docker0 -j DROP');
    expect(text).not.toContain('-s fd00:d0c::/64 ! -o docker0 -j MASQUERADE');
    expect(text).toContain('-A DOCKER-USER -s 2001:db8:66::/48 -j DROP');
    expect(text).toContain('-A FORWARD -i eth1 -j ACCEPT');
    expect(text).toContain('-A POSTROUTING -s 2001:db8:9::/64 -o eth0 -j MASQUERADE');
    expect(text).toContain('-j DNAT --to-destination [fd00:d0c::2]:80');
    expect(planRestore(v6, parseSave(await kernel.save('ipv6'))).changes, 'nothing left to take over').toEqual([]);
  });
});

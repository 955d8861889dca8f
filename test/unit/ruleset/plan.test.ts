import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { parseSave } from '../../../src/ruleset/parse.js';
import { planFlush, planRestore, renderRuleset } from '../../../src/ruleset/plan.js';
import { containerChain } from '../../../src/compile/names.js';
import { container, inventory, network, tcp } from '../../helpers/fixtures.js';
import { FakeIptables } from '../../fakes/iptables.js';

const net = network(1);
const one = compile(inventory([net], [container(1, net, [tcp(80)])]), BUILTIN_DEFAULT).rulesets[0]!;
const second = containerChain(container(2, net, []).id);
const two = compile(inventory([net], [container(1, net, [tcp(80)]), container(2, net, [tcp(81)])]), BUILTIN_DEFAULT).rulesets[0]!;

describe('planning a restore', () => {
  it('writes everything when nothing is live, and nothing once applied', async () => {
    const kernel = new FakeIptables();
    const first = planRestore(one, parseSave(await kernel.save('ipv4')));
    expect(first.text).toBe(renderRuleset(one));
    await kernel.restore('ipv4', first.text);
    expect(planRestore(one, parseSave(await kernel.save('ipv4')))).toMatchObject({ text: '', changes: [] });
  });

  it('rewrites only the chains a new container touches', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    const next = planRestore(two, parseSave(await kernel.save('ipv4')));
    expect(next.changes.map((c) => `${c.table}/${c.chain}`).sort()).toEqual([
      `filter/${second}`, 'filter/DOCKWARD-PUBLISH', `nat/${second}`,
      'nat/DOCKWARD-HAIRPIN', 'nat/DOCKWARD-PUBLISH',
    ].sort());
    await kernel.restore('ipv4', next.text);
    expect(planRestore(two, parseSave(await kernel.save('ipv4'))).changes).toEqual([]);
  });

  it('deletes the chains of a container that is gone', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(two));
    const next = planRestore(one, parseSave(await kernel.save('ipv4')));
    expect(next.changes.filter((c) => c.kind === 'delete-chain').map((c) => `${c.table}/${c.chain}`)).toEqual([
      `filter/${second}`, `nat/${second}`,
    ]);
    await kernel.restore('ipv4', next.text);
    expect([...kernel.chains('nat').keys()]).not.toContain(second);
  });

  it('puts a hook back on top when a foreign rule was inserted above it, without duplicating it', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    await kernel.restore('ipv4', '*filter\n-I FORWARD 1 -i virbr0 -j ACCEPT\nCOMMIT');
    const next = planRestore(one, parseSave(await kernel.save('ipv4')));
    expect(next.changes).toEqual([{ kind: 'place-hook', table: 'filter', chain: 'FORWARD' }]);
    await kernel.restore('ipv4', next.text);
    const forward = kernel.chains('filter').get('FORWARD')!;
    expect(forward).toHaveLength(3);
    expect(forward[0]).toContain('-j DOCKER-USER');
    expect(forward[1]).toContain('-j DOCKWARD-FORWARD');
    expect(forward[2]).toBe('-i virbr0 -j ACCEPT');
  });

  it('rewrites an owned chain in which a rule was edited or added by someone else', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    await kernel.restore('ipv4', '*filter\n-A DOCKWARD-FORWARD -j ACCEPT\nCOMMIT');
    expect(planRestore(one, parseSave(await kernel.save('ipv4'))).changes).toEqual([{ kind: 'write-chain', table: 'filter', chain: 'DOCKWARD-FORWARD' }]);
  });

  it('flush removes every owned chain and hook and nothing else', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(two));
    await kernel.restore('ipv4', '*filter\n:OTHER - [0:0]\n-A FORWARD -j OTHER\nCOMMIT');
    await kernel.restore('ipv4', planFlush(parseSave(await kernel.save('ipv4'))).text);
    expect(await kernel.save('ipv4')).not.toContain('DOCKWARD');
    expect(await kernel.save('ipv4')).toContain('-A FORWARD -j OTHER');
  });
});

describe('a stop on the hot path (deferDeletes)', () => {
  const moved = compile(inventory([net], [container(1, net, [tcp(80)]), container(2, net, [tcp(81)], { endpoints: [{ networkId: net.id, networkName: net.name, ipv4: '172.17.0.9' }] })]),
    BUILTIN_DEFAULT).rulesets[0]!;

  it('empties the gone container\'s chains and leaves the jumps to them, and its hairpin masquerade, for the cleanup', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(two));
    const stop = planRestore(one, parseSave(await kernel.save('ipv4')), { deferDeletes: true });
    expect(stop.changes.map((c) => `${c.kind} ${c.table}/${c.chain}`).sort()).toEqual([`flush-chain filter/${second}`, `flush-chain nat/${second}`]);
    expect(stop.deferred).toBe(true);
    await kernel.restore('ipv4', stop.text);
    expect(kernel.chains('nat').get('DOCKWARD-PUBLISH')!.some((l) => l.endsWith(`-j ${second}`)), 'the jump stays, to an empty chain').toBe(true);
  });

  it('lets a moved container\'s stale dispatch jump wait too: the chain it leads to checks the new address itself', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(two));
    const move = planRestore(moved, parseSave(await kernel.save('ipv4')), { deferDeletes: true });
    expect(move.text).not.toContain('-D DOCKWARD-PUBLISH');
    expect(move.deferred).toBe(true);
    await kernel.restore('ipv4', move.text);
    const own = kernel.chains('filter').get(second)!;
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((l) => l.startsWith('-d 172.17.0.9/32 ')), 'every verdict in it names the new address').toBe(true);
  });
});

describe('taking over from Docker', () => {
  it('removes the chains and rules Docker wrote, keeps DOCKER-USER with its rules and the operator\'s own', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', [
      '*filter', ':DOCKER - [0:0]', ':DOCKER-ISOLATION-STAGE-1 - [0:0]', ':DOCKER-USER - [0:0]', ':MINE - [0:0]',
      '-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
      '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-A FORWARD -o docker0 -j DOCKER',
      '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT', '-A FORWARD -i docker0 -o docker0 -j ACCEPT', '-A FORWARD -i eth1 -j MINE',
      '-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-A DOCKER-USER -s 192.0.2.66/32 -j DROP', 'COMMIT',
      '*nat', ':DOCKER - [0:0]', '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER', '-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER',
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE', '-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE',
      '-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE', '-A POSTROUTING -o eth0 -j MASQUERADE',
      '-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80', 'COMMIT',
      '*raw', '-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP', '-A PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 5432 -j DROP', 'COMMIT',
    ].join('\n'));
    await kernel.restore('ipv4', planRestore(one, parseSave(await kernel.save('ipv4'))).text);
    const text = await kernel.save('ipv4');
    expect(text).not.toMatch(/:DOCKER /);
    expect(text).not.toContain('DOCKER-ISOLATION');
    expect(text).not.toContain('-j DOCKER\n');
    expect(text).toContain('-A DOCKER-USER -s 192.0.2.66/32 -j DROP');
    expect(text).toContain('-A FORWARD -i eth1 -j MINE');
    expect(text).toContain('-A POSTROUTING -o eth0 -j MASQUERADE');
    const forward = kernel.chains('filter').get('FORWARD')!;
    expect(forward.map((r) => r.replace(/-m comment --comment "[^"]*" /, ''))).toEqual(['-j DOCKER-USER', '-j DOCKWARD-FORWARD', '-i eth1 -j MINE']);
    expect(kernel.chains('raw').get('PREROUTING')!.filter((r) => !r.includes('DW:'))).toEqual([]);
    expect(planRestore(one, parseSave(await kernel.save('ipv4'))).changes).toEqual([]);
  });

  it('creates DOCKER-USER when missing and never flushes it', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    expect(kernel.chains('filter').has('DOCKER-USER')).toBe(true);
    await kernel.restore('ipv4', '*filter\n-A DOCKER-USER -j RETURN\nCOMMIT');
    await kernel.restore('ipv4', planRestore(two, parseSave(await kernel.save('ipv4'))).text);
    expect(kernel.chains('filter').get('DOCKER-USER')).toEqual(['-j RETURN']);
  });
});

describe('table order', () => {
  it('writes filter before nat when access grows, and nat before filter when it only shrinks', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    const grow = planRestore(two, parseSave(await kernel.save('ipv4'))).text;
    expect(grow.indexOf('*filter')).toBeLessThan(grow.indexOf('*nat'));
    await kernel.restore('ipv4', grow);
    const shrink = planRestore(one, parseSave(await kernel.save('ipv4'))).text;
    expect(shrink.indexOf('*nat')).toBeLessThan(shrink.indexOf('*filter'));
  });
});

import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { changedContainers, Reconciler } from '../../../src/daemon/reconciler.js';
import { containerChain } from '../../../src/compile/names.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import type { Inventory } from '../../../src/inventory/types.js';
import type { Conntrack, Flow } from '../../../src/dataplane/conntrack.js';
import { RestoreError } from '../../../src/dataplane/iptables.js';
import { liveDrift } from '../../../src/dataplane/apply.js';
import type { Ipset } from '../../../src/dataplane/ipset.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { container, inventory, network, policy, tcp } from '../../helpers/fixtures.js';

const log = pino({ level: 'silent' });
const net = network(1);
const withWeb = inventory([net], [container(1, net, [tcp(443)])]);

function docker(...answers: (Inventory | Error)[]) {
  return async () => {
    const next = answers.length > 1 ? answers.shift()! : answers[0]!;
    if (next instanceof Error) throw next;
    return next;
  };
}

describe('reconciler', () => {
  it('applies, then finds nothing to change', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(withWeb), iptables: ipt, log }, BUILTIN_DEFAULT);
    expect(await r.reconcile(['start'])).toBe(true);
    expect(await r.reconcile(['resync'])).toBe(true);
    expect(ipt.restores, 'one restore per family at start, none after').toBe(2);
    expect(r.state.stats).toEqual({ containers: 1, mappings: 1, rules: expect.any(Number) });
  });

  it('logs what is left out of the rules when it first applies, not again at every resync', async () => {
    const lines: { msg: string; note?: string }[] = [];
    const capture = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
    const odd = network(2, { bridge: 'not a name!' });
    let inv = inventory([net, odd], [container(1, net, [tcp(443)])]);
    const r = new Reconciler({ readInventory: async () => inv, iptables: new FakeIptables(), log: capture }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    await r.reconcile(['resync']);
    await r.reconcile(['resync']);
    const leftOut = () => lines.filter((l) => l.msg === 'left out of the rules').map((l) => l.note);
    expect(leftOut()).toEqual([expect.stringContaining('bridge name is not a valid interface name')]);
    expect(r.state.notes, 'status still lists it').toHaveLength(1);
    // Gone, then back: said again.
    inv = inventory([net], [container(1, net, [tcp(443)])]);
    await r.reconcile(['resync']);
    inv = inventory([net, odd], [container(1, net, [tcp(443)])]);
    await r.reconcile(['resync']);
    expect(leftOut()).toHaveLength(2);
  });

  it('pauses the change watch only around full applies that write: not for a resync that finds nothing, nor for a hot apply', async () => {
    const ipt = new FakeIptables();
    const paused: boolean[] = [];
    let inv = withWeb;
    const r = new Reconciler({ readInventory: async () => inv, iptables: ipt, log, onFullWrite: (w) => paused.push(w) }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    expect(paused, 'the first apply writes').toEqual([true, false]);
    await r.reconcile(['resync']);
    expect(paused, 'nothing to write').toHaveLength(2);
    inv = inventory([net], [container(1, net, [tcp(443)]), container(2, net, [tcp(8443)])]);
    await r.reconcile([`docker:container:start:${inv.containers[1]!.id}`]);
    expect(paused, 'a hot apply is watched').toHaveLength(2);
    ipt.flushTable('nat');
    await r.reconcile(['wiped:ipv4/nat']);
    expect(paused, 'the repair writes').toEqual([true, false, true, false]);
  });

  it('repairs wiped tables without an iptables-save, hooks back once each, and applies in full when a wipe took more than a flush does', async () => {
    const ipt = new FakeIptables();
    let readBacks = 0;
    const r = new Reconciler({ readInventory: docker(withWeb), iptables: ipt, log, onHotApply: () => { readBacks++; } }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    const desired = r.state.desired[0]!;
    ipt.flushTable('filter');
    ipt.flushTable('nat');
    // Someone's rule, put in after the wipe: it stays, below the hooks.
    ipt.chains('filter').get('FORWARD')!.push('-s 192.0.2.9/32 -j DROP');
    let saves = ipt.saves;
    expect(await r.reconcile(['wiped:ipv4/filter,ipv4/nat'])).toBe(true);
    expect(ipt.saves - saves, 'no save before the repair').toBe(0);
    expect(readBacks, 'a read-back is asked for instead').toBe(1);
    expect(await liveDrift(ipt, desired)).toEqual([]);
    expect(ipt.chains('filter').get('FORWARD')!.at(-1)).toBe('-s 192.0.2.9/32 -j DROP');
    // The same wipe reported again, the tables whole meanwhile: nothing twice.
    expect(await r.reconcile(['wiped:ipv4/filter,ipv4/nat'])).toBe(true);
    expect(await liveDrift(ipt, desired)).toEqual([]);
    // DOCKER-USER deleted with the rest (-F, then -X): the repair without a save fails, the full apply makes it again.
    ipt.flushTable('filter');
    ipt.chains('filter').delete('DOCKER-USER');
    saves = ipt.saves;
    expect(await r.reconcile(['wiped:ipv4/filter'])).toBe(true);
    expect(ipt.saves - saves, 'the full apply saved first').toBeGreaterThan(0);
    expect(ipt.chains('filter').has('DOCKER-USER')).toBe(true);
    expect(await liveDrift(ipt, desired)).toEqual([]);
  });

  it('keeps the rules in force when Docker does not answer, instead of reading "no containers"', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(withWeb, new Error('connect ECONNREFUSED')), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    const before = await ipt.save('ipv4');
    expect(await r.reconcile(['docker'])).toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
    expect(r.state.lastError?.message).toMatch(/docker unreachable, rules in force kept/);
    expect(r.state.dockerReachable).toBe(false);
  });

  it('repairs a wiped table from the last good inventory while Docker is away', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(withWeb, new Error('timeout')), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    expect(await r.reconcile(['resync'])).toBe(false);
    const before = await ipt.save('ipv4');
    ipt.flushTable('nat');
    const restores = ipt.restores;
    expect(await r.reconcile(['wiped:ipv4/nat']), 'repaired, but Docker still has to answer').toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
    expect(ipt.restores - restores, 'the table written once, not again from the same last inventory').toBe(1);
    // The scheduler's retries, Docker still away: the tables are checked, not rewritten blind each time.
    expect(await r.reconcile(['wiped:ipv4/nat'])).toBe(false);
    expect(await r.reconcile(['wiped:ipv4/nat'])).toBe(false);
    expect(ipt.restores - restores).toBe(1);
    // Wiped again meanwhile: the check finds it and repairs.
    ipt.flushTable('nat');
    expect(await r.reconcile(['wiped:ipv4/nat'])).toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
  });

  it('repairs a wipe from the last good inventory without asking Docker', async () => {
    const ipt = new FakeIptables();
    let reads = 0;
    const read = docker(withWeb);
    const r = new Reconciler({ readInventory: () => { reads++; return read(); }, iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    const before = await ipt.save('ipv4');
    ipt.flushTable('filter');
    expect(await r.reconcile(['wiped:ipv4/filter'])).toBe(true);
    expect(await r.reconcile(['drift', 'policy-reload'])).toBe(true);
    expect(reads, 'only the start read Docker').toBe(1);
    expect(await ipt.save('ipv4')).toBe(before);
  });

  it('repairs at once while a read waits on a frozen dockerd, and keeps the rules when it times out', async () => {
    const ipt = new FakeIptables();
    let answer: (error: Error) => void = () => undefined;
    let reads = 0;
    const r = new Reconciler({
      readInventory: async () => (reads++ === 0 ? withWeb : new Promise<Inventory>((_resolve, reject) => { answer = reject; })),
      iptables: ipt, log,
    }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    const before = await ipt.save('ipv4');
    expect(r.interrupt('wiped:ipv4/nat'), 'nothing waits on Docker yet').toBe(false);
    const resync = r.reconcile(['resync']);
    await new Promise((done) => setImmediate(done));
    ipt.flushTable('nat');
    expect(r.interrupt('resync'), 'a reason that needs Docker is not a repair').toBe(false);
    expect(r.interrupt('wiped:ipv4/nat')).toBe(true);
    for (let i = 0; i < 20 && (await ipt.save('ipv4')) !== before; i++) await new Promise((done) => setImmediate(done));
    expect(await ipt.save('ipv4'), 'repaired before Docker answered').toBe(before);
    answer(new Error('timeout'));
    expect(await resync).toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
    expect(r.state.lastError?.message).toMatch(/docker unreachable/);
  });

  it('leaves the previous rules when a restore fails, and succeeds on retry', async () => {
    const ipt = new FakeIptables();
    const two = inventory([net], [container(1, net, [tcp(443)]), container(2, net, [tcp(80)])]);
    const r = new Reconciler({ readInventory: docker(withWeb, two), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    const before = await ipt.save('ipv4');
    ipt.failNext = 1;
    expect(await r.reconcile(['docker'])).toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
    expect(r.state.lastError?.message).toMatch(/apply failed, previous rules kept/);
    expect(await r.reconcile(['retry'])).toBe(true);
    expect(await ipt.save('ipv4')).toContain('172.17.0.3:80');
    expect(r.state.lastError).toBeUndefined();
  });

  it('one family failing leaves the other applied, and is reported (IPv4 fails, IPv6 loads)', async () => {
    class Ipv4Fails extends FakeIptables {
      override async restore(family: 'ipv4' | 'ipv6', text: string, options?: { readonly whole?: boolean }): Promise<void> {
        if (family === 'ipv4') throw new RestoreError('ipv4', 1, 'iptables-restore: injected failure', undefined, '');
        return super.restore(family, text, options);
      }
    }
    const dual = network(1, { subnets: [{ family: 'ipv4', cidr: '172.17.0.0/16' }, { family: 'ipv6', cidr: 'fd00:d0c::/64' }] });
    const web6 = container(1, dual, [tcp(443), tcp(443, 443, '::')], { endpoints: [{ networkId: dual.id, networkName: 'bridge', ipv4: '172.17.0.2', ipv6: 'fd00:d0c::2' }] });
    const ipt = new Ipv4Fails();
    const r = new Reconciler({ readInventory: docker(inventory([dual], [web6])), iptables: ipt, log }, BUILTIN_DEFAULT);
    expect(await r.reconcile(['start'])).toBe(false);
    expect(await ipt.save('ipv6')).toContain('-j DNAT --to-destination [fd00:d0c::2]:443');
    expect(await ipt.save('ipv4')).not.toContain('DOCKWARD');
    expect(r.state.lastError?.message).toMatch(/ipv4: iptables-restore failed/);
    expect(r.state.lastError?.message).not.toMatch(/ipv6/);
  });

  it('deletes the open flows of a source the new policy refuses, and only those', async () => {
    const flows: Flow[] = [
      { protocol: 'tcp', src: '198.51.100.2', dst: '198.51.100.1', dport: 443 },
      { protocol: 'tcp', src: '203.0.113.2', dst: '203.0.113.1', dport: 443 },
    ];
    const removed: Flow[] = [];
    const conntrack: Conntrack = { list: async () => flows, remove: async (_f, flow) => { removed.push(flow); } };
    const r = new Reconciler({ readInventory: docker(withWeb), iptables: new FakeIptables(), conntrack, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    r.setPolicy(policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { from: [203.0.113.0/24] }\n'));
    await r.reconcile(['policy-reload']);
    expect(removed).toEqual([flows[0]]);
  });
});

describe('reconciler without Docker at start', () => {
  it('loads base rules (hooks and canaries) on a host with no dockward rules yet', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(new Error('ENOENT')), iptables: ipt, log }, BUILTIN_DEFAULT);
    expect(await r.reconcile(['start'])).toBe(false);
    const text = await ipt.save('ipv4');
    expect(text).toContain('-A FORWARD -m comment --comment "DW:');
    expect(text).toContain(':DOCKWARD-CANARY');
  });

  it('after a reboot (no rules live) loads only base rules from the saved inventory: its subnets refused, none of its DNATs', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(new Error('ENOENT')), iptables: ipt, log, fallbackInventory: withWeb }, BUILTIN_DEFAULT);
    expect(await r.reconcile(['start'])).toBe(false);
    const text = await ipt.save('ipv4');
    expect(text).toContain(':DOCKWARD-CANARY');
    expect(text).not.toContain('-j DNAT');
    expect(text).toMatch(new RegExp(`-d ${net.subnets[0]!.cidr.replace(/\./g, '\\.')} ! -i ${net.bridge} .*-j DROP`));
    expect(text).toMatch(new RegExp(`-o ${net.bridge} .*isolation" -j DROP`));
  });

  it('after a restart while Docker is down, re-applies the saved inventory the live rules came from', async () => {
    const ipt = new FakeIptables();
    await new Reconciler({ readInventory: docker(withWeb), iptables: ipt, log }, BUILTIN_DEFAULT).reconcile(['start']);
    const before = await ipt.save('ipv4');
    const restarted = new Reconciler({ readInventory: docker(new Error('ENOENT')), iptables: ipt, log, fallbackInventory: withWeb }, BUILTIN_DEFAULT);
    expect(await restarted.reconcile(['start'])).toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
    expect(restarted.state.desired).not.toEqual([]);
  });

  it('leaves rules an earlier run left untouched', async () => {
    const ipt = new FakeIptables();
    await new Reconciler({ readInventory: docker(withWeb), iptables: ipt, log }, BUILTIN_DEFAULT).reconcile(['start']);
    const before = await ipt.save('ipv4');
    const restarted = new Reconciler({ readInventory: docker(new Error('ENOENT')), iptables: ipt, log }, BUILTIN_DEFAULT);
    expect(await restarted.reconcile(['start'])).toBe(false);
    expect(await ipt.save('ipv4')).toBe(before);
  });
});

describe('which containers a reconcile inspects again', () => {
  const id = 'a'.repeat(64);
  it('only those Docker events named', () => {
    expect(changedContainers([`docker:container:start:${id}`, 'docker:network:connect'])).toEqual(new Set([id]));
  });
  it('none for a repair or a policy reload', () => {
    expect(changedContainers(['wiped:ipv4/nat', 'drift', 'policy-reload'])).toEqual(new Set());
  });
  it('all of them at start, at a resync and after the event stream reconnects', () => {
    for (const reason of ['start', 'resync', 'docker-connected']) expect(changedContainers(['drift', reason])).toBe('all');
  });
});

/** An ipset stand-in that records every command it is asked to run. */
function countingIpset(): Ipset & { calls: string[] } {
  const sets = new Map<string, string[]>();
  const calls: string[] = [];
  return {
    calls,
    async list() { calls.push('list'); return new Map([...sets.keys()].map((n) => [n, 'ipv4' as const])); },
    async members(name) { calls.push(`save ${name}`); return sets.get(name); },
    async restore(text) {
      calls.push('restore');
      sets.set(/^create (\S+) /.exec(text)![1]!, text.split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]!));
    },
    async destroy(name) { calls.push(`destroy ${name}`); return sets.delete(name); },
  };
}

describe('the hot path after a Docker event', () => {
  const id = (n: number) => container(n, net, []).id;
  const two = inventory([net], [container(1, net, [tcp(443)]), container(2, net, [tcp(80)])]);

  it('runs no exec at all when the event changes nothing, and only a restore when it does', async () => {
    const ipt = new FakeIptables();
    const ipset = countingIpset();
    const many = Array.from({ length: 40 }, (_, i) => `10.0.${i}.0/24`).join(', ');
    const withSets = policy(`version: 1\nzones:\n  banned: { ipset: f2b-sshd }\n  partners: { sources: [${many}] }\nrules:\n  - { from: [zone:banned], action: deny }\n  - { from: [zone:partners] }\n`);
    const r = new Reconciler({ readInventory: docker(withWeb, withWeb, two), iptables: ipt, log, ipset }, withSets);
    await r.reconcile(['start']);
    const [saves, restores, ipsetCalls] = [ipt.saves, ipt.restores, ipset.calls.length];
    expect(ipsetCalls, 'the start lists sets and loads its own').toBeGreaterThan(0);
    expect(await r.reconcile([`docker:container:die:${id(9)}`])).toBe(true);
    expect([ipt.saves, ipt.restores]).toEqual([saves, restores]);
    expect(ipset.calls.slice(ipsetCalls), 'no ipset command either').toEqual([]);
    expect(await r.reconcile([`docker:container:start:${id(2)}`])).toBe(true);
    expect(ipt.saves).toBe(saves);
    expect(ipt.restores).toBe(restores + 1);
    expect(await ipt.save('ipv4')).toContain('172.17.0.3:80');
  });

  it('edits the dispatch chains line by line instead of rewriting them', async () => {
    const ipt = new FakeIptables();
    const restored: string[] = [];
    const restore = ipt.restore.bind(ipt);
    ipt.restore = async (family, text) => { restored.push(text); await restore(family, text); };
    const r = new Reconciler({ readInventory: docker(withWeb, two), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    await r.reconcile([`docker:container:start:${id(2)}`]);
    const hot = restored.at(-1)!;
    expect(hot).not.toContain(':DOCKWARD-PUBLISH');
    expect(hot.match(/^-A DOCKWARD-PUBLISH /gm), 'nat and filter: one line each').toHaveLength(2);
    expect(hot.match(/^-A DOCKWARD-HAIRPIN /gm)).toHaveLength(1);
  });

  it('falls back to reading the live rules when a hot restore fails (they were not as last applied)', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(withWeb, two), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    ipt.wipe();
    expect(await r.reconcile([`docker:container:start:${id(2)}`])).toBe(true);
    const live = await ipt.save('ipv4');
    expect(live).toContain('172.17.0.2:443');
    expect(live).toContain('172.17.0.3:80');
  });

  it('on a stop, empties the container\'s chains at once and leaves their deletion to a cleanup', async () => {
    const ipt = new FakeIptables();
    let cleanups = 0;
    const r = new Reconciler({ readInventory: docker(two, withWeb, withWeb), iptables: ipt, log, onDeferred: () => { cleanups++; } }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    await r.reconcile([`docker:container:die:${id(2)}`]);
    expect(cleanups).toBe(1);
    expect(await ipt.save('ipv4')).not.toContain('172.17.0.3:80');
    expect(ipt.chains('nat').has(containerChain(id(2)))).toBe(true);
    const saves = ipt.saves;
    await r.reconcile(['cleanup']);
    expect(ipt.saves, 'the cleanup is planned against what the stop left, not read first').toBe(saves);
    expect(ipt.chains('nat').has(containerChain(id(2)))).toBe(false);
    expect(await ipt.save('ipv4')).not.toContain('172.17.0.3');
    expect(await liveDrift(ipt, r.state.desired.find((d) => d.family === 'ipv4')!), 'nothing left over, nothing tolerated').toEqual([]);
  });

  it('when the cleanup finds the rules not as the stop left them, it applies in full from the live rules', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(two, withWeb, withWeb), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    await r.reconcile([`docker:container:die:${id(2)}`]);
    // Someone deleted the emptied chain meanwhile: the cleanup's -X of it fails.
    ipt.chains('filter').get('DOCKWARD-PUBLISH')!.splice(0);
    ipt.chains('filter').delete(containerChain(id(2)));
    const saves = ipt.saves;
    expect(await r.reconcile(['cleanup'])).toBe(true);
    expect(ipt.saves, 'it read the live rules').toBeGreaterThan(saves);
    expect(await liveDrift(ipt, r.state.desired.find((d) => d.family === 'ipv4')!)).toEqual([]);
  });

  it('on nft, a stop empties the chains through a flush, not a restore, and the state it assumes is the kernel\'s', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(two, withWeb, two), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    const restores = ipt.restores;
    await r.reconcile([`docker:container:die:${id(2)}`]);
    expect(ipt.restores, 'no restore for the stop').toBe(restores);
    expect(ipt.flushCalls.map((c) => c.family), 'IPv4 only: these containers have no IPv6').toEqual(['ipv4']);
    const v4 = ipt.flushCalls.find((c) => c.family === 'ipv4')!;
    expect(v4.chains).toEqual(expect.arrayContaining([{ table: 'nat', chain: containerChain(id(2)) }, { table: 'filter', chain: containerChain(id(2)) }]));
    expect(await ipt.save('ipv4')).not.toContain('172.17.0.3:80');
    // The read-back after a hot apply finds the kernel as assumed (the emptied chains wait for the cleanup).
    expect(await liveDrift(ipt, r.state.desired.find((d) => d.family === 'ipv4')!, true)).toEqual([]);
    await r.reconcile([`docker:container:start:${id(2)}`]);
    expect(await ipt.save('ipv4')).toContain('172.17.0.3:80');
  });

  it('when the flush fails (a chain was not there), applies in full from the live rules instead', async () => {
    const ipt = new FakeIptables();
    const r = new Reconciler({ readInventory: docker(two, withWeb), iptables: ipt, log }, BUILTIN_DEFAULT);
    await r.reconcile(['start']);
    ipt.chains('nat').delete(containerChain(id(2)));
    expect(await r.reconcile([`docker:container:die:${id(2)}`])).toBe(true);
    expect(ipt.flushCalls.length).toBeGreaterThan(0);
    const live = await ipt.save('ipv4');
    expect(live).not.toContain('172.17.0.3');
    expect(live).toContain('172.17.0.2:443');
  });
});

/** ICC per network from the policy, and `connections:` across and within networks. */
import { describe, expect, it } from 'vitest';
import { compile, DEFAULT_OPTIONS } from '../../../src/compile/index.js';
import { CompileCache } from '../../../src/compile/cache.js';
import { connectionChain, sourceChain } from '../../../src/compile/names.js';
import type { Container, Inventory } from '../../../src/inventory/types.js';
import type { Policy } from '../../../src/policy/types.js';
import { planRestore, renderRuleset } from '../../../src/ruleset/plan.js';
import { parseSave } from '../../../src/ruleset/parse.js';
import { applyIncremental, applyRuleset, assumedAfter, liveDrift, type Assumed } from '../../../src/dataplane/apply.js';
import { trace } from '../../../src/trace/index.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { liveRuleset } from '../../helpers/live.js';
import { container, inventory, network, policy } from '../../helpers/fixtures.js';

const front = network(2);
const back = network(3);
const app = container(1, front, []);
const db = container(2, back, []);
const worker = container(3, back, []);
const inv = inventory([front, back], [app, db, worker]);

function chain(inv: Inventory, pol: Policy, table: string, name: string): string[] {
  const text = renderRuleset(compile(inv, pol).rulesets[0]!);
  const block = text.split(`*${table}\n`)[1]?.split('COMMIT')[0] ?? '';
  return block.split('\n').filter((l) => l.startsWith(`-A ${name} `)).map((l) => l.replace(/ -m comment --comment "[^"]*"/, '').slice(`-A ${name} `.length));
}

describe('networks: ICC', () => {
  it('overrides enable_icc per network, exact names before globs', () => {
    const pol = policy(`version: 1\nnetworks:\n  "net*": { icc: deny }\n  ${front.name}: { icc: allow }\n`);
    const forward = chain(inv, pol, 'filter', 'DOCKWARD-FORWARD');
    expect(forward).toContain(`-i ${front.bridge} -o ${front.bridge} -j ACCEPT`);
    expect(forward).toContain(`-i ${back.bridge} -o ${back.bridge} -j DROP`);
    expect(chain(inv, pol, 'mangle', 'DOCKWARD-FORWARD'), 'mangle repeats the decision').toContain(`-i ${back.bridge} -o ${back.bridge} -j DROP`);
  });
});

describe('connections', () => {
  const pol = policy(`version: 1
connections:
  - { from: c1, to: c2, ports: [5432/tcp] }
  - { from: c3, to: c2, action: reject }
`);
  const k = connectionChain(db.id);

  const fromApp = sourceChain(app.id);

  it('opens exactly the allowed path in filter, bound to the source bridge, first match first', () => {
    expect(chain(inv, pol, 'filter', 'DOCKWARD-CONNECT')).toEqual([`-d 172.19.0.3/32 -j ${k}`]);
    expect(chain(inv, pol, 'filter', k)).toEqual([
      `-s 172.18.0.2/32 -i ${front.bridge} -p tcp -m tcp --dport 5432 -j ${fromApp}`,
      `-s 172.19.0.4/32 -i ${back.bridge} -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    expect(chain(inv, pol, 'filter', fromApp), 'the allowed path ends in its source\'s chain, which accepts').toEqual(['-j ACCEPT']);
    expect(chain(inv, pol, 'filter', sourceChain(worker.id)), 'a refused source has none').toEqual([]);
    const forward = chain(inv, pol, 'filter', 'DOCKWARD-FORWARD');
    expect(forward.indexOf(`-o ${back.bridge} -j DOCKWARD-CONNECT`)).toBeLessThan(forward.indexOf(`-o ${back.bridge} -j DROP`));
  });

  it('exempts only the cross-network path from raw\'s subnet drop, before it', () => {
    expect(chain(inv, pol, 'raw', k)).toEqual([`-s 172.18.0.2/32 -d 172.19.0.3/32 -i ${front.bridge} -p tcp -m tcp --dport 5432 -j ${fromApp}`]);
    expect(chain(inv, pol, 'raw', fromApp)).toEqual(['-j ACCEPT']);
    const pre = chain(inv, pol, 'raw', 'DOCKWARD-PREROUTING');
    expect(pre.indexOf('-j DOCKWARD-CONNECT')).toBeLessThan(pre.findIndex((l) => l.startsWith('-d 172.19.0.0/16')));
  });

  it('repeats the decisions in mangle, a rejection marked for the guard (filter rejects it, or the guard drops it)', () => {
    expect(chain(inv, pol, 'mangle', k)).toEqual([
      `-s 172.18.0.2/32 -i ${front.bridge} -p tcp -m tcp --dport 5432 -j ${fromApp}`,
      `-s 172.19.0.4/32 -i ${back.bridge} -j DOCKWARD-REJECT-LATER`,
    ]);
    expect(chain(inv, pol, 'mangle', 'DOCKWARD-POSTROUTING')).toContain('-m mark --mark 0x1000000/0x1000000 -j DROP');
  });

  it('writes nothing for connections when there are none', () => {
    const text = renderRuleset(compile(inv, policy('version: 1\n')).rulesets[0]!);
    expect(text).not.toContain('CONNECT');
  });
});

describe('connections: a chain of one verdict is a set', () => {
  const pol = policy(`version: 1
connections:
  - { name: to-db, from: { label: role=app }, to: c2, ports: [5432/tcp] }
`);
  const asApp = (n: number) => container(n, front, [], { labels: { role: 'app' } });
  const k = connectionChain(db.id);
  const before = inventory([front, back], [asApp(1), db]);
  const after = inventory([front, back], [asApp(1), db, asApp(4)]);

  /** What a new connection from `source` (on the front bridge) to db's 5432 meets in the rules the kernel holds. */
  const toDb = async (kernel: FakeIptables, source: string) => trace(liveRuleset(await kernel.save('ipv4')),
    { family: 'ipv4', protocol: 'tcp', source, inIface: front.bridge, destination: db.endpoints[0]!.ipv4!, dport: 5432 },
    { localAddresses: [], bridges: [{ cidr: '172.18.0.0/16', iface: front.bridge }, { cidr: '172.19.0.0/16', iface: back.bridge }] }).verdict.kind;

  it('a source container that starts adds its line to the destination chain; one that stops empties its own chain, which ends its paths at once', async () => {
    const kernel = new FakeIptables();
    const first = compile(before, pol).rulesets[0]!;
    await kernel.restore('ipv4', renderRuleset(first));
    const assumed = assumedAfter(first);
    const address = asApp(4).endpoints[0]!.ipv4!;
    expect(await toDb(kernel, address), 'not yet a source').toBe('dropped');
    const started = await applyIncremental(kernel, compile(after, pol).rulesets[0]!, assumed);
    // In filter, in mangle (its mirror) and in raw (the path crosses networks): a line added to each, no chain rewritten.
    const kChanges = started.changes.filter((c) => c.chain === k);
    expect(kChanges.map((c) => `${c.kind} ${c.table}`).sort()).toEqual(['append-chain filter', 'append-chain mangle', 'append-chain raw']);
    expect(started.deferred).toBe(false);
    expect(kernel.chains('filter').get(k)!.filter((l) => l.includes('--dport 5432'))).toHaveLength(2);
    expect(await toDb(kernel, address)).toBe('delivered');
    // The stop: only the source's own chain changes (emptied in each table); db's chain keeps a line leading nowhere, for the cleanup.
    const stopped = await applyIncremental(kernel, compile(before, pol).rulesets[0]!, assumedAfter(started.applied, started.live));
    const own = sourceChain(asApp(4).id);
    expect(stopped.changes.filter((c) => c.chain === k || c.chain === own).map((c) => `${c.kind} ${c.table}`).sort())
      .toEqual(['flush-chain filter', 'flush-chain mangle', 'flush-chain raw']);
    expect(stopped.deferred).toBe(true);
    expect(await toDb(kernel, address), 'whoever gets that address next is refused').toBe('dropped');
    expect(await toDb(kernel, asApp(1).endpoints[0]!.ipv4!), 'the other source still gets through').toBe('delivered');
    expect(await liveDrift(kernel, compile(before, pol).rulesets[0]!, true), 'the read-back after the stop finds the kernel as assumed').toEqual([]);
    // The cleanup (a full apply) takes the stale line and the chain out.
    const cleaned = await applyRuleset(kernel, compile(before, pol).rulesets[0]!);
    expect(cleaned.changes.filter((c) => c.chain === k || c.chain === own).map((c) => `${c.kind} ${c.table}`).sort())
      .toEqual(['delete-chain filter', 'delete-chain mangle', 'delete-chain raw', 'edit-chain filter', 'edit-chain mangle', 'edit-chain raw']);
    expect(kernel.chains('filter').get(k)!.some((l) => l.includes(`-s ${address}/32`))).toBe(false);
    expect(planRestore(compile(before, pol).rulesets[0]!, parseSave(await kernel.save('ipv4'))).changes).toEqual([]);
  });

  it('a source that moves to another address loses the old one at once, though its chain stays', async () => {
    const kernel = new FakeIptables();
    const first = compile(after, pol).rulesets[0]!;
    await kernel.restore('ipv4', renderRuleset(first));
    const moved = { ...asApp(4), endpoints: [{ ...asApp(4).endpoints[0]!, ipv4: '172.18.0.9' }] };
    const plan = await applyIncremental(kernel, compile(inventory([front, back], [asApp(1), db, moved]), pol).rulesets[0]!, assumedAfter(first));
    expect(plan.changes.filter((c) => c.chain === k).map((c) => c.kind)).toEqual(['edit-chain', 'edit-chain', 'edit-chain']);
    expect(await toDb(kernel, asApp(4).endpoints[0]!.ipv4!), 'the old address').toBe('dropped');
    expect(await toDb(kernel, '172.18.0.9'), 'the new one').toBe('delivered');
  });

  it('stays ordered when its rules differ in verdict, or when a rule logs (each LOG line before its verdict)', () => {
    const mixed = policy(`version: 1
connections:
  - { from: { label: role=app }, to: c2, ports: [5432/tcp] }
  - { from: c1, to: c2, action: reject }
`);
    const logged = policy(`version: 1
connections:
  - { from: { label: role=app }, to: c2, ports: [5432/tcp], log: true }
`);
    const find = (p: Policy) => compile(after, p).rulesets[0]!.tables.filter.chains.find((c) => c.name === k)!;
    expect(find(pol).unordered).toBe(true);
    expect(find(mixed).unordered).toBeUndefined();
    const withLog = find(logged);
    expect(withLog.unordered).toBeUndefined();
    expect(withLog.rules.map((r) => r.target.kind)).toEqual(['LOG', 'jump', 'LOG', 'jump']);
    expect(withLog.rules[0]!.target).toMatchObject({ prefix: 'DW ALLOW connections[0] ' });
  });
});

describe('connections on the hot path: lines left for the cleanup never open a path', () => {
  const bridges = [{ cidr: '172.18.0.0/16', iface: front.bridge }, { cidr: '172.19.0.0/16', iface: back.bridge }];
  const at = (c: Container, ipv4: string): Container => ({ ...c, endpoints: [{ ...c.endpoints[0]!, ipv4 }] });

  /** A daemon's hot path in small: a cached compile, applied against what the last apply left. */
  class HotPath {
    readonly kernel = new FakeIptables();
    private readonly cache = new CompileCache();
    private assumed!: Assumed;
    constructor(private readonly pol: Policy) {}
    private compiled(inv: Inventory) {
      return compile(inv, this.pol, DEFAULT_OPTIONS, this.cache).rulesets[0]!;
    }
    async start(inv: Inventory) {
      const rs = this.compiled(inv);
      await this.kernel.restore('ipv4', renderRuleset(rs));
      this.assumed = assumedAfter(rs);
    }
    async event(inv: Inventory) {
      const result = await applyIncremental(this.kernel, this.compiled(inv), this.assumed);
      this.assumed = assumedAfter(result.applied, result.live);
      return result;
    }
    /** What a new TCP connection from `source` on `iface` to `destination:port` meets in the rules the kernel holds. */
    async reach(source: string, iface: string, destination: string, port: number) {
      return trace(liveRuleset(await this.kernel.save('ipv4')), { family: 'ipv4', protocol: 'tcp', source, inIface: iface, destination, dport: port },
        { localAddresses: [], bridges }).verdict.kind;
    }
    /** The assumed state is the kernel's, stale lines included (the read-back that follows finds no drift). */
    async assumedIsLive(table: string, chain: string) {
      expect(this.assumed.live.get(table as 'filter')!.get(chain)!.rules.map((r) => r.text)).toEqual(this.kernel.chains(table).get(chain));
    }
  }

  it('a source that stops, while another moves, then starts elsewhere: its old address stays refused', async () => {
    const pol = policy('version: 1\nconnections:\n  - { from: { label: role=app }, to: c2, ports: [5432/tcp] }\n');
    const app = (n: number) => container(n, front, [], { labels: { role: 'app' } });
    const [a, b] = [app(1), app(4)];
    const hot = new HotPath(pol);
    const k = connectionChain(db.id);
    await hot.start(inventory([front, back], [a, b, db]));
    await hot.event(inventory([front, back], [b, db])); // a stops: its line waits
    await hot.event(inventory([front, back], [at(b, '172.18.0.9'), db])); // b moves: its old line goes now, and a's with it
    await hot.assumedIsLive('filter', k);
    await hot.event(inventory([front, back], [at(a, '172.18.0.7'), at(b, '172.18.0.9'), db])); // a starts again, elsewhere
    expect(await hot.reach('172.18.0.2', front.bridge, '172.19.0.3', 5432), 'a\'s old address').toBe('dropped');
    expect(await hot.reach('172.18.0.7', front.bridge, '172.19.0.3', 5432), 'a\'s new one').toBe('delivered');
    await hot.assumedIsLive('filter', k);
  });

  it('a source started again before the cleanup, no longer selected for one destination (renamed), does not reach it', async () => {
    const pol = policy('version: 1\nconnections:\n  - { from: [c1, c4], to: c2, ports: [5432/tcp] }\n  - { from: "c1*", to: c3, ports: [80/tcp] }\n');
    const a = container(1, front, []);
    const hot = new HotPath(pol);
    const rest = [db, worker, container(4, front, [])];
    await hot.start(inventory([front, back], [a, ...rest]));
    expect(await hot.reach('172.18.0.2', front.bridge, '172.19.0.3', 5432)).toBe('delivered');
    await hot.event(inventory([front, back], rest));
    await hot.event(inventory([front, back], [{ ...a, name: 'c1-old' }, ...rest]));
    expect(await hot.reach('172.18.0.2', front.bridge, '172.19.0.3', 5432), 'c1-old to c2').toBe('dropped');
    expect(await hot.reach('172.18.0.2', front.bridge, '172.19.0.4', 80), 'c1-old to c3, still allowed').toBe('delivered');
  });

  it('a destination that moves: the next owner of its old address is not judged by its chain', async () => {
    const pol = policy(`version: 1\nnetworks:\n  ${front.name}: { icc: deny }\nconnections:\n  - { from: c1, to: c2, ports: [5432/tcp] }\n`);
    const [a, d] = [container(1, front, []), container(2, front, [])];
    const hot = new HotPath(pol);
    await hot.start(inventory([front], [a, d]));
    await hot.event(inventory([front], [a, at(d, '172.18.0.9')]));
    await hot.event(inventory([front], [a, at(d, '172.18.0.9'), at(container(5, front, []), '172.18.0.3')]));
    expect(await hot.reach('172.18.0.2', front.bridge, '172.18.0.3', 5432), 'to the new owner of the old address').toBe('dropped');
    expect(await hot.reach('172.18.0.2', front.bridge, '172.18.0.9', 5432), 'to the destination where it is now').toBe('delivered');
  });
});

import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { compile } from '../../../src/compile/index.js';
import { applyRuleset } from '../../../src/dataplane/apply.js';
import { relevantChange, removal, watchRuleChanges, type MonitorProcess } from '../../../src/dataplane/nft-monitor.js';
import { readDrift } from '../../../src/daemon/drift.js';
import { checkCanaries, startWatchdog } from '../../../src/daemon/watchdog.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import type { Ruleset } from '../../../src/ruleset/types.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { container, inventory, network, policy, tcp } from '../../helpers/fixtures.js';

const log = pino({ level: 'silent' });
const net = network(1);
const inv = inventory([net], [container(1, net, [tcp(443)])]);
const v4 = (p = BUILTIN_DEFAULT): Ruleset => compile(inv, p).rulesets[0]!;
const narrowed = policy('version: 1\ndefaults: { published: deny }\nrules:\n  - { from: [198.51.100.0/24] }\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function live(ruleset: Ruleset) {
  const ipt = new FakeIptables();
  await applyRuleset(ipt, ruleset);
  return ipt;
}

describe('canaries', () => {
  it('name a digest of the policy: another policy changes every table\'s canary, a container start none', () => {
    const canary = (r: Ruleset, t: 'filter' | 'raw') => JSON.stringify(r.tables[t].chains.find((c) => c.name === 'DOCKWARD-CANARY'));
    expect(canary(v4(), 'filter')).toBe(canary(v4(), 'filter'));
    expect(canary(v4(narrowed), 'filter')).not.toBe(canary(v4(), 'filter'));
    expect(canary(v4(narrowed), 'raw')).not.toBe(canary(v4(), 'raw'));
    const more = compile(inventory([net], [container(1, net, [tcp(443)]), container(2, net, [tcp(8443)])]), BUILTIN_DEFAULT).rulesets[0]!;
    expect(canary(more, 'filter')).toBe(canary(v4(), 'filter'));
    // The same policy read through another spelling of its path: the same canaries.
    expect(canary(v4({ ...narrowed, origin: '../etc/dockward/policy.yaml' }), 'filter')).toBe(canary(v4(narrowed), 'filter'));
  });

  it('tell a wiped table from an older copy of the rules put back', async () => {
    const old = v4();
    const ipt = await live(old);
    const saved = await ipt.save('ipv4');
    const current = v4(narrowed);
    await applyRuleset(ipt, current);
    expect(await checkCanaries(ipt, [current])).toEqual({ wiped: [], stale: [] });
    // An iptables service restart from a file saved before the policy changed.
    await ipt.restore('ipv4', `${saved}\n`, { whole: true });
    const found = await checkCanaries(ipt, [current]);
    expect(found.stale).toContain('ipv4/filter');
    expect(found.wiped).toEqual([]);
    ipt.flushTable('nat');
    expect((await checkCanaries(ipt, [current])).wiped).toEqual(['ipv4/nat']);
  });
});

describe('read-back findings', () => {
  it('name a missing hook, a foreign rule above the hooks and an altered chain', async () => {
    const desired = v4();
    const ipt = await live(desired);
    expect(await readDrift(ipt, desired)).toEqual([]);
    const forward = ipt.chains('filter').get('FORWARD')!;
    const hook = forward.find((r) => r.includes('-j DOCKWARD-FORWARD'))!;
    forward.splice(forward.indexOf(hook), 1);
    expect(await readDrift(ipt, desired)).toEqual(['ipv4 filter/FORWARD: hook missing (jump to DOCKWARD-FORWARD)']);
    await applyRuleset(ipt, desired);
    ipt.chains('filter').get('FORWARD')!.unshift('-s 203.0.113.9/32 -j ACCEPT');
    expect(await readDrift(ipt, desired)).toEqual(['ipv4 filter/FORWARD: foreign rule above the hooks: -s 203.0.113.9/32 -j ACCEPT']);
    ipt.chains('filter').get('FORWARD')!.shift();
    const chain = ipt.chains('filter').get('DOCKWARD-FORWARD')!;
    chain[0] = '-j ACCEPT';
    expect(await readDrift(ipt, desired)).toEqual([expect.stringMatching(/^ipv4 filter\/DOCKWARD-FORWARD: altered from rule 1 on/)]);
  });
});

/** A change source the test drives, standing in for `nft monitor`; `listens` says whether it reports changes now. */
function changes(listens = () => true) {
  let emit: (what: string) => void = () => undefined;
  const source = (cb: (what: string) => void) => {
    emit = cb;
    // Like nft-monitor.ts: coming back from a pause counts as a change.
    return { listening: listens, stop: () => undefined, pause: () => undefined, resume: () => cb('restarted') };
  };
  return { source, emit: (w: string) => emit(w) };
}

/** A watchdog on live rules equal to the desired ones, with timers too slow to matter: only changes drive it. */
async function watching(busy: () => boolean, readBackAfterMs?: number) {
  const desired = v4();
  const ipt = await live(desired);
  const drifts: string[] = [];
  const c = changes();
  const w = startWatchdog({ iptables: ipt, log, desired: () => [desired], busy, onDrift: (r) => drifts.push(r), canaryMs: 60_000, readbackMs: 60_000, watchChanges: c.source,
    ...(readBackAfterMs ? { changeQuietMs: readBackAfterMs, changeMaxMs: readBackAfterMs } : {}) });
  return { ipt, drifts, c, w };
}

describe('watchdog with change notifications', () => {
  it('reads back within a second of a change, long before the read-back interval, and repairs what differs', async () => {
    const { ipt, drifts, c, w } = await watching(() => false);
    try {
      const saves = ipt.saves;
      // dockward's own writes show as changes too: the read-back finds nothing and nothing is applied.
      for (let i = 0; i < 20; i++) c.emit('add rule ip filter DOCKWARD-X');
      await sleep(700);
      expect(ipt.saves - saves, 'a run of changes costs one read-back').toBe(1);
      expect(drifts).toEqual([]);
      ipt.chains('filter').get('FORWARD')!.unshift('-j ACCEPT');
      c.emit('insert rule ip filter FORWARD');
      await sleep(700);
      expect(drifts).toEqual(['drift']);
    } finally {
      w.stop();
    }
  });

  it('looks at the canaries as soon as a burst of changes pauses: a wiped table is repaired without waiting for their tick', async () => {
    const { ipt, drifts, c, w } = await watching(() => false);
    try {
      // `iptables -F`: a burst of changes, the canary among them; the canary tick is a minute away.
      ipt.flushTable('filter');
      for (let i = 0; i < 5; i++) c.emit(`delete rule ip filter DOCKWARD-FORWARD handle ${i}`);
      const seen = Date.now();
      while (drifts.length === 0 && Date.now() - seen < 2_000) await sleep(5);
      expect(drifts[0], 'the canaries, not the read-back (which says drift)').toBe('wiped:ipv4/filter');
      expect(Date.now() - seen).toBeLessThan(1_000);
    } finally {
      w.stop();
    }
  });

  it('asks for the full apply when one look finds a table wiped beside tables put back from an older policy', async () => {
    const { ipt, drifts, c, w } = await watching(() => false);
    try {
      // A service restart from a file saved under another policy, and a flush of nat after it.
      const saved = await (await live(v4(narrowed))).save('ipv4');
      await ipt.restore('ipv4', `${saved}\n`, { whole: true });
      ipt.flushTable('nat');
      c.emit('delete rule ip nat DOCKWARD-PUBLISH handle 2');
      const seen = Date.now();
      while (drifts.length === 0 && Date.now() - seen < 2_000) await sleep(5);
      // A repair of the wiped table alone would leave the older policy's rules in filter.
      expect(drifts).toEqual([expect.stringMatching(/^drift:stale:.*ipv4\/filter/)]);
    } finally {
      w.stop();
    }
  });

  it('leaves additions and the monitor\'s return after an own apply to the read-back: no canary listing for those', async () => {
    const { ipt, drifts, c, w } = await watching(() => false);
    try {
      const listings = vi.spyOn(ipt, 'listChain');
      ipt.flushTable('nat');
      c.emit('add rule ip filter DOCKWARD-PUBLISH');
      c.emit('restarted');
      await sleep(700);
      expect(drifts).toEqual(['drift']);
      expect(listings).not.toHaveBeenCalled();
    } finally {
      w.stop();
    }
  });

  it('waits for a running apply before it reads back a change', async () => {
    let busy = true;
    const { ipt, drifts, c, w } = await watching(() => busy);
    try {
      ipt.chains('filter').get('DOCKWARD-FORWARD')!.splice(0);
      c.emit('delete rule ip filter DOCKWARD-FORWARD handle 3');
      await sleep(500);
      expect(drifts).toEqual([]);
      busy = false;
      await sleep(500);
      expect(drifts).toEqual(['drift']);
    } finally {
      w.stop();
    }
  });
});

describe('canary ticks', () => {
  async function listingsIn(ms: number, watchChanges: ReturnType<typeof changes>['source'] | null) {
    const desired = v4();
    const ipt = await live(desired);
    const listings = vi.spyOn(ipt, 'listChain');
    const w = startWatchdog({ iptables: ipt, log, desired: () => [desired], busy: () => false, onDrift: () => undefined,
      canaryMs: 20, canaryWatchedMs: 10_000, readbackMs: 60_000, watchChanges });
    await sleep(ms);
    w.stop();
    return listings.mock.calls.length;
  }

  it('look every canaryMs without a change monitor, and only as a fallback while one listens', async () => {
    // One listing per table: four per look at an IPv4 ruleset.
    expect(await listingsIn(300, null)).toBeGreaterThanOrEqual(4 * 3);
    expect(await listingsIn(300, changes().source)).toBe(4);
  });

  it('look every canaryMs again while the monitor does not listen (dead and waiting for its restart, or still starting)', async () => {
    expect(await listingsIn(300, changes(() => false).source)).toBeGreaterThanOrEqual(4 * 3);
  });
});

describe('canary looks brought forward by removals', () => {
  it('come within a bound of the first removal even when the burst does not pause', async () => {
    const { ipt, drifts, c, w } = await watching(() => false);
    try {
      ipt.flushTable('filter');
      const since = Date.now();
      // A removal every 20 ms for a second: no 50 ms pause ever comes.
      for (let i = 0; i < 50 && drifts.length === 0; i++) {
        c.emit(`delete rule ip filter DOCKWARD-FORWARD handle ${i}`);
        await sleep(20);
      }
      expect(drifts[0]).toBe('wiped:ipv4/filter');
      expect(Date.now() - since, 'within the 200 ms bound, with margin for a loaded machine').toBeLessThan(800);
    } finally {
      w.stop();
    }
  });

  it('look again when a removal comes while a look is under way (it may have listed before the wipe)', async () => {
    // The read-back, which would find the wipe too, is held off.
    const { ipt, drifts, c, w } = await watching(() => false, 10_000);
    try {
      const list = ipt.listChain.bind(ipt);
      let slow = true;
      // The first look lists the canaries slowly, the tables still whole.
      vi.spyOn(ipt, 'listChain').mockImplementation(async (...args) => {
        const rules = await list(...args);
        if (slow) await sleep(150);
        return rules;
      });
      c.emit('delete rule ip filter DOCKWARD-X handle 1');
      await sleep(80);
      slow = false;
      ipt.flushTable('nat');
      c.emit('delete rule ip nat DOCKWARD-PUBLISH handle 2');
      const since = Date.now();
      while (drifts.length === 0 && Date.now() - since < 2_000) await sleep(5);
      expect(drifts[0]).toBe('wiped:ipv4/nat');
    } finally {
      w.stop();
    }
  });
});

describe('watchdog around an apply', () => {
  it('reads back once the apply is over, so a foreign edit made during it (unwatched) is still found', async () => {
    let busy = false;
    const { ipt, drifts, w } = await watching(() => busy);
    try {
      busy = true;
      w.applying(true);
      ipt.chains('filter').get('FORWARD')!.unshift('-j ACCEPT');
      busy = false;
      w.applying(false);
      await sleep(600);
      expect(drifts).toEqual(['drift']);
    } finally {
      w.stop();
    }
  });
});

describe('nft monitor', () => {
  it('counts changes to the tables dockward uses only', () => {
    expect(relevantChange('delete rule ip filter FORWARD handle 4')).toBe(true);
    expect(relevantChange('add chain ip6 nat DOCKWARD-X')).toBe(true);
    expect(relevantChange('delete table ip raw')).toBe(true);
    expect(relevantChange('add rule inet firewalld filter_INPUT accept')).toBe(false);
    expect(relevantChange('# new generation 7 by process 8685 (iptables)')).toBe(false);
    expect(removal('flush chain ip nat DOCKWARD-PUBLISH')).toBe(true);
    expect(removal('delete rule ip filter FORWARD handle 4')).toBe(true);
    expect(removal('add rule ip filter DOCKWARD-PUBLISH')).toBe(false);
    expect(removal('restarted')).toBe(false);
  });

  it('does not count as listening while it starts (nft reads the whole ruleset before it subscribes)', async () => {
    const spawn = (): MonitorProcess => ({ stdout: new PassThrough(), ended: new Promise(() => undefined), kill: () => undefined });
    const m = watchRuleChanges({ log, onChange: () => undefined, spawn, startMs: 100 });
    try {
      expect(m.listening()).toBe(false);
      await sleep(150);
      expect(m.listening()).toBe(true);
    } finally {
      m.stop();
    }
  });

  it('is started again when it dies, and says so (changes in the gap were missed)', async () => {
    const procs: { out: PassThrough; end: () => void }[] = [];
    const spawn = (): MonitorProcess => {
      const out = new PassThrough();
      let end: () => void = () => undefined;
      const ended = new Promise<void>((r) => { end = r; });
      procs.push({ out, end });
      return { stdout: out, ended, kill: () => end() };
    };
    const seen: string[] = [];
    const m = watchRuleChanges({ log, onChange: (l) => seen.push(l), spawn, backoffMinMs: 20, startMs: 0 });
    try {
      procs[0]!.out.write('delete rule ip filter FORWARD handle 4\nadd rule inet other x\n');
      await sleep(20);
      expect(m.listening()).toBe(true);
      procs[0]!.end();
      await sleep(5);
      expect(m.listening(), 'dead, waiting for its restart: the canary ticks are the watch meanwhile').toBe(false);
      await sleep(100);
      expect(procs).toHaveLength(2);
      expect(m.listening()).toBe(true);
      expect(seen).toEqual(['delete rule ip filter FORWARD handle 4', 'restarted']);
      // Paused while dockward applies: no monitor runs, and none is started behind its back.
      m.pause();
      await sleep(100);
      expect(procs).toHaveLength(2);
      m.resume();
      expect(procs).toHaveLength(3);
      expect(seen.at(-1)).toBe('restarted');
    } finally {
      m.stop();
    }
  });
});

/**
 * dockward run while Docker itself goes away: dockerd restarted (containers come back,
 * with new addresses), dockward started before dockerd, and dockerd with live-restore
 * frozen or stopped for 10 s while its containers keep serving.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, INTERNAL_ONLY, liveRules, scratch, startDockward, tableLines, type RunningDockward } from './dockward.js';
import { knock } from './traffic.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;
const POLICY = INTERNAL_ONLY;

let lab: Lab | undefined;
let running: RunningDockward | undefined;
const files = scratch();
afterAll(() => files.cleanup());

afterEach(async () => {
  if (running) expect(await running.stop()).toBe(0);
  running = undefined;
  await lab?.stop();
  lab = undefined;
});

const save = liveRules;

async function run(l: Lab, stateDir: string, extra: string[] = []) {
  running = startDockward(l, ['--policy', files.policy('policy.yaml', POLICY), '--state-dir', stateDir, ...extra]);
  return running;
}

describe('dockward run while Docker goes away', () => {
  it('4. dockerd restarted: containers with a restart policy come back with new addresses and the rules follow them', async () => {
    lab = await startLab();
    await lab.runHttp('filler');
    await lab.runHttp('web', { publish: ['8080:80'], restart: 'always' });
    const before = await lab.containerIp('web');
    const d = await run(lab, `${files.dir}/4`);
    await eventually(async () => (await lab!.http('internal', `http://${INT}:8080/`)) === 'web', 5000);
    await lab.dockerd.restart();
    await eventually(async () => (await lab!.http('internal', `http://${INT}:8080/`)) === 'web', 10_000);
    const after = await lab.containerIp('web');
    expect(after).not.toBe(before);
    const rules = await save(lab);
    expect(rules).toContain(`--to-destination ${after}:80`);
    expect(rules).not.toContain(`--to-destination ${before}:80`);
    expect(await lab.http('external', `http://${EXT}:8080/`)).toBeNull();
    await d.waitForLog((r) => r.msg === 'docker event stream lost; reconnecting');
  });

  it('10. started before dockerd after a reboot: base rules from the saved inventory refuse its subnets, the full rules once Docker is up', async () => {
    lab = await startLab();
    await lab.runHttp('web', { publish: ['8080:80'], restart: 'always' });
    const webIp = await lab.containerIp('web');
    const state = `${files.dir}/10`;
    // An earlier run leaves its inventory in the state dir; a reboot leaves no rules in the kernel.
    await run(lab, state);
    await eventually(async () => (await lab!.http('internal', `http://${INT}:8080/`)) === 'web', 5000);
    expect(await running!.stop()).toBe(0);
    running = undefined;
    await lab.dockerd.stop();
    expect((await dockward(lab, ['flush'])).exitCode).toBe(0);
    // The refused source may route to container addresses through the host.
    await lab.exec('external', 'ip', ['route', 'add', '172.16.0.0/12', 'via', EXT]);
    const d = await run(lab, state);
    await d.waitForLog((r) => r.msg.startsWith('docker unreachable'));
    await eventually(async () => {
      const rules = await save(lab!);
      return ['raw', 'mangle', 'filter', 'nat'].every((t) => tableLines(rules, t).some((l) => l.startsWith('-A DOCKWARD-CANARY')));
    }, 5000);
    const base = await save(lab);
    expect(base).toContain('-j DOCKWARD-FORWARD');
    expect(base).not.toContain('-j DNAT');
    expect(tableLines(base, 'raw').some((l) => l.includes('-d 172.17.0.0/16 ! -i docker0') && l.endsWith('-j DROP')), 'direct access to the saved subnet refused').toBe(true);
    expect(tableLines(base, 'filter').some((l) => l.includes('-o docker0') && l.endsWith('-j DROP')), 'new connections into the saved bridge refused').toBe(true);
    const knockers = [knock(lab, lab.externalNs, EXT, 8080, LAB_ADDR.external.client), knock(lab, lab.externalNs, webIp, 80, LAB_ADDR.external.client)];
    try {
      await eventually(async () => knockers.every((k) => k.tries() > 5), 5000);
      await lab.dockerd.start();
      await eventually(async () => (await lab!.http('internal', `http://${INT}:8080/`)) === 'web', 10_000);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      for (const k of knockers) await k.stop();
    }
    for (const k of knockers) {
      expect(k.answers(), 'the refused source got an answer while dockerd brought the containers back').toEqual([]);
      expect(k.tries()).toBeGreaterThan(10);
    }
    expect(await lab.http('external', `http://${EXT}:8080/`)).toBeNull();
  });

  for (const mode of ['frozen (SIGSTOP)', 'stopped'] as const) {
    it(`12. dockerd with live-restore ${mode} for 10 s: every rule stays, allowed traffic keeps working, a flush meanwhile is repaired, and Docker back means a resync`, async () => {
      lab = await startLab({ dockerdArgs: ['--live-restore'] });
      await lab.runHttp('web', { publish: ['8080:80'] });
      const state = `${files.dir}/12`;
      const d = await run(lab, state, ['--resync-interval', '1']);
      const allowed = async () => (await lab!.http('internal', `http://${INT}:8080/`, { timeoutMs: 300 })) === 'web';
      await eventually(allowed, 5000);
      const before = await save(lab);
      const knocker = knock(lab, lab.externalNs, EXT, 8080, LAB_ADDR.external.client);
      try {
        if (mode === 'stopped') await lab.dockerd.stop();
        else lab.dockerd.pause();
        const outageEnds = Date.now() + 10_000;
        const outcomes = await everyFewMs(allowed, 3000);
        // Rules wiped while Docker cannot answer: repaired from the last good inventory.
        const flushed = Date.now();
        await lab.inHost('sh', ['-c', 'iptables -F; iptables -t nat -F']);
        const repairMs = await eventually(allowed, 2000, 25);
        console.log(`flush during the Docker outage (${mode}) repaired in ${Date.now() - flushed} ms`);
        expect(repairMs).toBeLessThanOrEqual(2000);
        outcomes.push(...await everyFewMs(allowed, outageEnds - Date.now()));
        const status = await dockward(lab, ['status', '--state-dir', state]);
        expect(outcomes.every(Boolean), 'allowed traffic kept working through the outage').toBe(true);
        expect(await save(lab)).toBe(before);
        expect(status.stdout).toContain('docker: unreachable (rules in force kept)');
        expect(status.exitCode).toBe(1);
        expect(d.logs().some((r) => r.msg.startsWith('docker unreachable, rules in force kept'))).toBe(true);
        const applies = d.logs().filter((r) => r.msg === 'applied');
        // A periodic resync may be coalesced into the repair; an apply that neither starts nor repairs is unasked.
        // The repair is asked for by the canaries (wiped:…) or, on nft, by the read-back the change monitor triggers (drift).
        const repairs = (reason: string) => reason.startsWith('wiped:') || reason.startsWith('drift');
        const unasked = applies.filter((r) => !(r['reasons'] as string[]).some((reason) => reason === 'start' || repairs(reason)));
        // The two flushes may be seen apart: one repair or two.
        expect(applies.filter((r) => (r['reasons'] as string[]).some(repairs)).length, 'the flush is repaired').toBeGreaterThanOrEqual(1);
        const described = unasked.map((r) => `${JSON.stringify(r['reasons'])} ${JSON.stringify(r['changes'])}`);
        expect(described, `only the start and the repair change anything: ${described.join('; ')}`).toEqual([]);
      } finally {
        if (mode === 'stopped') await lab.dockerd.start();
        else lab.dockerd.resume();
        await knocker.stop();
      }
      expect(knocker.answers(), 'the refused source got an answer during the outage').toEqual([]);
      expect(knocker.tries()).toBeGreaterThan(20);
      // Docker back: the event stream reconnects (a stopped dockerd closed it), a resync succeeds.
      if (mode === 'stopped') await d.waitForLog(() => d.logs().filter((r) => r.msg === 'docker event stream connected').length >= 2, 10_000);
      await eventually(async () => (await dockward(lab!, ['status', '--state-dir', state])).exitCode === 0, 10_000);
      const healthy = await dockward(lab, ['status', '--state-dir', state]);
      expect(healthy.stdout).toContain('docker: reachable');
      await lab.runHttp('late', { publish: ['9090:80'] });
      await eventually(async () => (await lab!.http('internal', `http://${INT}:9090/`)) === 'late', 5000);
      expect(await lab.http('external', `http://${EXT}:9090/`)).toBeNull();
    });
  }
});

/** Runs `check` every 400 ms for `ms`; returns each outcome. */
async function everyFewMs(check: () => Promise<boolean>, ms: number): Promise<boolean[]> {
  const outcomes: boolean[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    outcomes.push(await check());
    await new Promise((r) => setTimeout(r, 400));
  }
  return outcomes;
}

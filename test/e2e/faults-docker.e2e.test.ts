/**
 * dockward run while Docker itself goes away: dockerd restarted (containers come back,
 * with new addresses), dockward started before dockerd, and dockerd with live-restore
 * frozen or stopped for 10 s while its containers keep serving.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, INTERNAL_ONLY, liveRules, scratch, startDockward, type RunningDockward } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;
const POLICY = INTERNAL_ONLY;

let lab: Lab | undefined;
let running: RunningDockward | undefined;
const files = scratch();

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

  it('10. started before dockerd: base rules at once, the full rules once Docker is up', async () => {
    lab = await startLab();
    await lab.runHttp('web', { publish: ['8080:80'], restart: 'always' });
    await lab.dockerd.stop();
    const d = await run(lab, `${files.dir}/10`);
    await d.waitForLog((r) => r.msg.startsWith('docker unreachable'));
    await eventually(async () => {
      const rules = await save(lab!);
      return ['raw', 'mangle', 'filter', 'nat'].every((t) => rules.split(`*${t}\n`)[1]?.split('COMMIT')[0]?.includes('-A DOCKWARD-CANARY'));
    }, 5000);
    const base = await save(lab);
    expect(base).toContain('-j DOCKWARD-FORWARD');
    expect(base).not.toContain('-j DNAT');
    await lab.dockerd.start();
    await eventually(async () => (await lab!.http('internal', `http://${INT}:8080/`)) === 'web', 10_000);
    expect(await lab.http('external', `http://${EXT}:8080/`)).toBeNull();
  });

  for (const mode of ['frozen (SIGSTOP)', 'stopped'] as const) {
    it(`12. dockerd with live-restore ${mode} for 10 s: every rule stays and allowed traffic keeps working`, async () => {
      lab = await startLab({ dockerdArgs: ['--live-restore'] });
      await lab.runHttp('web', { publish: ['8080:80'] });
      const d = await run(lab, `${files.dir}/12`, ['--resync-interval', '1']);
      await eventually(async () => (await lab!.http('internal', `http://${INT}:8080/`)) === 'web', 5000);
      const before = await save(lab);
      if (mode === 'stopped') await lab.dockerd.stop();
      else lab.dockerd.pause();
      const outcomes: (string | null)[] = [];
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        outcomes.push(await lab.http('internal', `http://${INT}:8080/`));
        await new Promise((r) => setTimeout(r, 400));
      }
      const status = await dockward(lab, ['status', '--state-dir', `${files.dir}/12`]);
      if (mode === 'stopped') await lab.dockerd.start();
      else lab.dockerd.resume();
      expect(outcomes.every((o) => o === 'web')).toBe(true);
      expect(await save(lab)).toBe(before);
      expect(status.stdout).toContain('docker: unreachable (rules in force kept)');
      expect(status.exitCode).toBe(1);
      expect(d.logs().some((r) => r.msg.startsWith('docker unreachable, rules in force kept'))).toBe(true);
      const applies = d.logs().filter((r) => r.msg === 'applied');
      const later = applies.filter((r) => JSON.stringify(r['reasons']) !== '["start"]');
      expect(later.map((r) => `${JSON.stringify(r['reasons'])} ${JSON.stringify(r['changes'])}`), 'only the start (one apply per family) changes anything').toEqual([]);
    });
  }
});

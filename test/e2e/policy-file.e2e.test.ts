/**
 * `dockward run` without --policy, on the default path /etc/dockward/policy.yaml, while the
 * file and its directory come and go. The daemon runs in a mount namespace of its own
 * with an overlay on /etc, so the machine's own /etc is never touched: the test creates
 * and deletes /etc/dockward inside that namespace only.
 */
import { execa } from 'execa';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, INTERNAL_ONLY, liveRules, scratch, startDockward, type RunningDockward } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;
let lab: Lab;
let running: RunningDockward | undefined;
const files = scratch();

/** Runs a shell command in the daemon's mount namespace (where /etc is an overlay). */
const inDaemonMounts = (pid: number, script: string) => execa('nsenter', ['-t', String(pid), '-m', 'sh', '-c', script]);

/** A private mount namespace with a throw-away overlay on /etc, then the command given. */
function overlayEtc(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const script = `mount -t tmpfs tmpfs ${dir} && mkdir ${dir}/u ${dir}/w`
    + ` && mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/u,workdir=${dir}/w /etc && exec "$@"`;
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh'];
}

const reach = (from: 'internal' | 'external', host: string) => lab.http(from, `http://${host}:8080/`, { timeoutMs: 300 });

beforeAll(async () => {
  lab = await startLab();
  await lab.runHttp('web', { publish: ['8080:80'] });
});

afterAll(async () => {
  if (running) await running.stop();
  await lab?.stop();
  files.cleanup();
});

describe('the default policy file while running', () => {
  it('a directory missing at start is watched from above; once loaded, the file\'s deletion keeps the last good rules and fails status', async () => {
    running = startDockward(lab, ['--state-dir', files.dir], {}, overlayEtc(`${files.dir}/overlay`));
    const d = running;
    await d.waitForLog((r) => r.msg === 'applied');
    // No /etc/dockward: the built-in default, which lets every source reach a published port.
    await eventually(async () => (await reach('external', EXT)) === 'web', 5000);
    expect(await execa('test', ['-e', '/etc/dockward']).then(() => true, () => false), 'the machine\'s own /etc untouched').toBe(false);

    await inDaemonMounts(d.pid, `mkdir -p /etc/dockward && cat > /etc/dockward/policy.yaml <<'EOF'\n${INTERNAL_ONLY}EOF`);
    await d.waitForLog((r) => r.msg === 'policy loaded' && r['trigger'] === 'file change' && r['policy'] === '/etc/dockward/policy.yaml');
    await eventually(async () => (await reach('external', EXT)) === null, 3000);
    expect(await reach('internal', INT)).toBe('web');
    const inForce = await liveRules(lab);

    await inDaemonMounts(d.pid, 'rm /etc/dockward/policy.yaml');
    await d.waitForLog((r) => r.msg.startsWith('policy rejected') && JSON.stringify(r).includes('/etc/dockward/policy.yaml: file not found'));
    const status = await dockward(lab, ['status', '--state-dir', files.dir]);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain('/etc/dockward/policy.yaml: file not found');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await reach('external', EXT), 'no fallback to the permissive default').toBeNull();
    expect(await reach('internal', INT)).toBe('web');
    expect(await liveRules(lab)).toBe(inForce);

    // The whole directory removed and made again: still watched, the new file applied.
    await inDaemonMounts(d.pid, 'rm -r /etc/dockward');
    await new Promise((r) => setTimeout(r, 500));
    const allowExternal = INTERNAL_ONLY.replace('zone:internal', 'any');
    await inDaemonMounts(d.pid, `mkdir /etc/dockward && cat > /etc/dockward/policy.yaml <<'EOF'\n${allowExternal}EOF`);
    await eventually(async () => (await reach('external', EXT)) === 'web', 3000);
    await eventually(async () => (await dockward(lab, ['status', '--state-dir', files.dir])).exitCode === 0, 3000);
  });
});

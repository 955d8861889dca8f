/**
 * `dockward status --json` against a running daemon: what monitoring reads — when the last
 * apply happened and how long it took, the last error, the policy in force, the counts —
 * and the exit code: 0 in sync, 1 drifted, failing or not running.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { policyHash } from '../../src/policy/load.js';
import { dockward, eventually, INTERNAL_ONLY, scratch, startDockward, type RunningDockward } from './dockward.js';

let lab: Lab;
let running: RunningDockward | undefined;
const files = scratch();

const status = async () => {
  const r = await dockward(lab, ['status', '--json', '--state-dir', files.dir]);
  return { exitCode: r.exitCode, json: JSON.parse(r.stdout) as Record<string, unknown> };
};

beforeAll(async () => {
  lab = await startLab();
  await lab.runHttp('web', { publish: ['8080:80', '8081:80'] });
  await lab.runHttp('plain');
});

afterAll(async () => {
  if (running) await running.stop();
  await lab?.stop();
  files.cleanup();
});

describe('dockward status --json', () => {
  it('in sync: exit 0 with the last apply, the policy file and hash, and the counts; drifted or failing: exit 1; stopped: exit 1', async () => {
    const policy = files.policy('policy.yaml', INTERNAL_ONLY);
    const startedAt = Date.now();
    running = startDockward(lab, ['--policy', policy, '--state-dir', files.dir, '--readback-interval', '1']);
    await eventually(async () => (await status()).exitCode === 0, 10_000);
    expect(await lab.http('internal', `http://${LAB_ADDR.internal.host}:8080/`)).toBe('web');

    const healthy = await status();
    const lastApply = healthy.json['lastApply'] as { at: string; durationMs: number; changes: number };
    expect(healthy.json).toMatchObject({ healthy: true, running: true, inSync: true, drift: [], docker: { reachable: true } });
    expect(Date.parse(lastApply.at)).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(Date.parse(lastApply.at)).toBeLessThanOrEqual(Date.now());
    expect(lastApply.durationMs).toBeGreaterThanOrEqual(0);
    expect(lastApply.durationMs).toBeLessThan(10_000);
    expect(healthy.json['lastError']).toBeUndefined();
    expect(healthy.json['policy']).toEqual({ origin: policy, hash: policyHash(INTERNAL_ONLY) });
    const stats = healthy.json['stats'] as { containers: number; mappings: number; rules: number };
    expect(stats).toMatchObject({ containers: 2, mappings: 2 });
    expect(stats.rules).toBeGreaterThan(0);

    // Drift nobody repairs (dockward stopped with SIGSTOP, so neither read-back nor a monitor acts): exit 1, named.
    process.kill(running.pid, 'SIGSTOP');
    const line = (await lab.inHost('iptables', ['-t', 'nat', '-S', 'DOCKWARD-PUBLISH'])).stdout.split('\n').find((l) => l.startsWith('-A '))!;
    await lab.inHost('iptables', ['-t', 'nat', ...line.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((t) => t.replace(/^"|"$/g, ''))]);
    const drifted = await status();
    expect(drifted.exitCode).toBe(1);
    expect(drifted.json).toMatchObject({ healthy: false, running: true, inSync: false });
    expect((drifted.json['drift'] as string[]).join(' ')).toContain('nat/DOCKWARD-PUBLISH');
    process.kill(running.pid, 'SIGCONT');
    await eventually(async () => (await status()).exitCode === 0, 15_000);

    // Docker unreachable: the last error says so, exit 1; gone again once Docker answers.
    await lab.dockerd.stop();
    await eventually(async () => (await status()).json['lastError'] !== undefined, 10_000);
    const unreachable = await status();
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.json).toMatchObject({ healthy: false, docker: { reachable: false }, lastError: { message: expect.stringContaining('docker unreachable') } });
    expect(Date.parse((unreachable.json['lastError'] as { at: string }).at)).toBeGreaterThan(Date.parse(lastApply.at));
    await lab.dockerd.start();
    await eventually(async () => (await status()).exitCode === 0, 15_000);
    expect((await status()).json['lastError']).toBeUndefined();

    // A failing reload: the error is shown, exit 1.
    writeFileSync(policy, 'version: 2\n');
    process.kill(running.pid, 'SIGHUP');
    await running.waitForLog((r) => r.msg.startsWith('policy rejected'));
    const failing = await status();
    expect(failing.exitCode).toBe(1);
    expect((failing.json['policy'] as { error?: string[] }).error?.join(' ')).toContain(policy);

    expect(await running.stop()).toBe(0);
    running = undefined;
    const stopped = await status();
    expect(stopped.exitCode).toBe(1);
    expect(stopped.json).toMatchObject({ healthy: false, running: false });
    rmSync(`${files.dir}/status.json`);
    const none = await status();
    expect(none.exitCode).toBe(1);
    expect(none.json).toMatchObject({ healthy: false, running: false });
  });
});

/**
 * `connections:` and ICC per network with real traffic: app on one network reaches db on
 * another on 5432/tcp only; on a network whose ICC the policy turns off, one pair talks
 * and nothing else does. Each refusal has a positive control, and the refusals still hold
 * with any one of raw, mangle or filter wiped (no daemon running to repair them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import { connectionChain, sourceChain } from '../../src/compile/names.js';
import { dockward, eventually, scratch, startDockward } from './dockward.js';

const POLICY = `version: 1
networks:
  back: { icc: deny }
connections:
  - { name: app-db, from: app, to: db, ports: [5432/tcp] }
  - { name: worker-cache, from: worker, to: cache, ports: [80] }
`;

let lab: Lab;
const files = scratch();
const ip: Record<string, string> = {};

const get = (from: string, to: string, port: number) => lab.http({ container: from }, `http://${ip[to]}:${port}/`);

async function apply(): Promise<void> {
  const result = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)]);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

/** Every path of the scenario: [from, to, port, expected answer]. */
const PATHS: readonly [string, string, number, string | null][] = [
  ['app', 'db', 5432, 'db'], // the allowed path across networks
  ['app', 'db', 80, null], // another port of the same container
  ['other', 'db', 5432, null], // another container of the same network
  ['app', 'worker', 80, null], // another container of the other network
  ['app', 'other', 80, 'other'], // positive control: ICC on in front
  ['worker', 'cache', 80, 'cache'], // the one pair allowed in back, where ICC is off
  ['worker', 'db', 80, null],
  ['cache', 'worker', 80, null],
  ['db', 'cache', 80, null],
];

async function observed(): Promise<(string | null)[]> {
  return Promise.all(PATHS.map(([from, to, port]) => get(from, to, port)));
}

beforeAll(async () => {
  lab = await startLab();
  await lab.docker(['network', 'create', 'front']);
  await lab.docker(['network', 'create', 'back']);
  await Promise.all([
    lab.runHttp('app', { network: 'front' }),
    lab.runHttp('other', { network: 'front' }),
    lab.runHttp('db', { network: 'back', ports: [5432] }),
    lab.runHttp('worker', { network: 'back' }),
    lab.runHttp('cache', { network: 'back' }),
  ]);
  for (const name of ['app', 'other', 'db', 'worker', 'cache']) ip[name] = await lab.containerIp(name);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('connections between containers', () => {
  it('without a policy, networks are isolated and ICC follows Docker', async () => {
    expect((await dockward(lab, ['apply'])).exitCode).toBe(0);
    const [across, sameFront, sameBack] = await Promise.all([get('app', 'db', 5432), get('app', 'other', 80), get('worker', 'db', 80)]);
    expect({ across, sameFront, sameBack }).toEqual({ across: null, sameFront: 'other', sameBack: 'db' });
  });

  it('app reaches db across networks on 5432/tcp only; in back (ICC off) only worker → cache', async () => {
    await apply();
    expect(await observed()).toEqual(PATHS.map((p) => p[3]));
  });

  for (const table of ['raw', 'mangle', 'filter']) {
    it(`keeps every refused path refused with ${table} wiped`, async () => {
      await apply();
      await lab.inHost('iptables', ['-t', table, '-F']);
      const seen = await observed();
      PATHS.forEach(([from, to, port, expected], i) => {
        if (expected === null) expect(seen[i], `${from} → ${to}:${port} with ${table} wiped`).toBeNull();
      });
      expect(seen[0], 'the allowed path still works').toBe('db');
    });
  }
});

describe('connections under dockward run: sources that come and go', () => {
  // One rule, one verdict: db's chain is a set, edited line by line (compile/connections.ts).
  const SOURCES = `version: 1
connections:
  - { name: apps-db, from: { label: role=app }, to: db, ports: [5432/tcp] }
`;

  it('a source that starts reaches db at once (a line added); once it is gone, the next container given its address does not, before the cleanup', async () => {
    await lab.docker(['network', 'create', '--subnet', '172.30.9.0/24', 'side']);
    const k = connectionChain((await lab.docker(['inspect', '--format', '{{.Id}}', 'db'])).trim());
    const toDb = (from: string) => lab.http({ container: from }, `http://${ip['db']}:5432/`);
    const run = startDockward(lab, ['--policy', files.policy('sources.yaml', SOURCES), '--state-dir', `${files.dir}/sources`]);
    const applied = (id: string, change: string) => () => run.logs().some((r) => r.msg === 'applied'
      && (r['reasons'] as string[]).some((reason) => reason.includes(id)) && (r['changes'] as string[]).includes(change));
    try {
      await lab.runHttp('app1', { network: 'side', labels: { role: 'app' }, runArgs: ['--ip', '172.30.9.10'] });
      await eventually(async () => (await toDb('app1')) === 'db', 5000);
      const app2 = (await lab.runHttp('app2', { network: 'side', labels: { role: 'app' }, runArgs: ['--ip', '172.30.9.11'] })).trim();
      await eventually(async () => (await toDb('app2')) === 'db', 5000);
      await run.waitForLog(applied(app2, `append-chain filter/${k}`));
      await lab.docker(['rm', '-f', 'app2']);
      // The stop empties app2's own chain, which every line naming it in db's chain jumps to;
      // the intruder knocks before the cleanup (2 s later) has taken those lines out.
      const own = sourceChain(app2);
      await run.waitForLog(applied(app2, `flush-chain filter/${own}`));
      const stop = run.logs().find((r) => r.msg === 'applied' && (r['changes'] as string[]).includes(`flush-chain filter/${own}`))!;
      expect(stop['changes'], 'the stop leaves db\'s chain as it is').not.toContain(`edit-chain filter/${k}`);
      await lab.runHttp('intruder', { network: 'side', runArgs: ['--ip', '172.30.9.11'] });
      const knocked = Date.now();
      expect(await toDb('intruder'), 'a container not selected, on the address of one that was').toBeNull();
      expect(await toDb('app1'), 'positive control: the remaining source').toBe('db');
      const cleanup = run.logs().find((r) => r.msg === 'applied' && (r['changes'] as string[]).includes(`delete-chain filter/${own}`));
      expect(cleanup === undefined || Number(cleanup['time']) > knocked, 'the intruder knocked while db\'s chain still named app2').toBe(true);
      // Each family logs its own apply: the IPv4 one is what iptables-save shows.
      await run.waitForLog(() => run.logs().some((r) => r.msg === 'applied' && r['family'] === 'ipv4' && (r['reasons'] as string[]).includes('cleanup')
        && (r['changes'] as string[]).includes(`edit-chain filter/${k}`)));
      expect((await lab.inHost('iptables-save', ['-t', 'filter'])).stdout, 'the cleanup took the stale line out').not.toContain(`-A ${k} -s 172.30.9.11/32`);
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });
});

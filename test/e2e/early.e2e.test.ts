/**
 * Published at the network connect, before the start ends: dockerd holds a container
 * through its start (an inspect waits for it), while Docker's own rules go in at the
 * connect inside it. dockward reads the container's configuration at its create and its
 * address from the network at its connect, so its rules are in force when `docker start`
 * returns, judged by the policy from the first rule on. A host port Docker picks at the
 * start (`-p 80`) can only be published after it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { IMAGE } from '../../src/lab/image.js';
import { httpRunArgs } from '../../src/lab/containers.js';
import { containerChain } from '../../src/compile/names.js';
import { eventually, INTERNAL_ONLY, liveRules, scratch, startDockward, type RunningDockward } from './dockward.js';

const INT = LAB_ADDR.internal.host;
const EXT = LAB_ADDR.external.host;

let lab: Lab;
let d: RunningDockward;
const files = scratch();

beforeAll(async () => {
  lab = await startLab();
  d = startDockward(lab, ['--policy', files.policy('policy.yaml', INTERNAL_ONLY), '--state-dir', files.dir]);
  await d.waitForLog((r) => r.msg === 'applied');
}, 120_000);

afterAll(async () => {
  await d?.stop();
  await lab?.stop();
  files.cleanup();
});

type Record = { msg: string; time?: number; family?: string; reasons?: string[]; changes?: string[] };
const appliedFor = (reason: string) => (r: Record) => r.msg === 'applied' && r.family === 'ipv4' && (r.reasons ?? []).includes(reason);

it('docker create -p 18080:80, then docker start: applied at the network connect, before the start; the internal link answered, the external refused', async () => {
  // Created first, as compose does: dockward's inspect at the create is sure to come before
  // the start holds the container (with `docker run` the two race; see the README).
  const id = (await lab.docker(['create', ...httpRunArgs('early', { publish: ['18080:80'] }).slice(2)])).trim();
  await new Promise((r) => setTimeout(r, 1000)); // dockward reads a created container in ~10 ms; a loaded machine gets margin
  await lab.docker(['start', 'early']);
  const returned = Date.now();
  await d.waitForLog(appliedFor(`docker:network:connect:${id}`), 2000);
  const applied = d.logs().find(appliedFor(`docker:network:connect:${id}`)) as Record;
  // The connect's apply wrote the container's own chains: its rules came from the early view, not from its start.
  expect(applied.changes).toContain(`write-chain nat/${containerChain(id)}`);
  expect(applied.changes).toContain(`write-chain filter/${containerChain(id)}`);
  // How early, on this machine (a loaded one narrows the margin; the order is what the changes above prove).
  console.log(`early publication: applied ${returned - applied.time!} ms before docker start returned`);
  // The policy holds: the allowed link answers (control), the other is refused.
  await eventually(async () => (await lab.http('internal', `http://${INT}:18080/`, { timeoutMs: 1000 })) === 'early', 2000);
  expect(await lab.http('external', `http://${EXT}:18080/`, { timeoutMs: 1000 })).toBeNull();
});

it('docker run -p 80 (a host port Docker picks at the start): published at its start, and the policy holds', async () => {
  const id = await lab.runHttp('picked', { publish: ['80'], wait: false });
  await d.waitForLog(appliedFor(`docker:container:start:${id}`), 2000);
  expect(d.logs().filter(appliedFor(`docker:network:connect:${id}`)), 'nothing to publish before the start').toEqual([]);
  const port = Number((await lab.docker(['port', 'picked', '80/tcp'])).trim().split('\n')[0]!.split(':').pop());
  expect(port).toBeGreaterThan(0);
  await eventually(async () => (await lab.http('internal', `http://${INT}:${port}/`, { timeoutMs: 1000 })) === 'picked', 2000);
  expect(await lab.http('external', `http://${EXT}:${port}/`, { timeoutMs: 1000 })).toBeNull();
});

it('a start that fails after its connect (no such command): the early rules go again', async () => {
  await lab.docker(['create', '--name', 'nostart', '-p', '18090:80', IMAGE, '/no/such/command']);
  await new Promise((r) => setTimeout(r, 1000)); // dockward reads a created container in ~10 ms; a loaded machine gets margin
  const failed = await lab.docker(['start', 'nostart']).then(() => 'started', () => 'failed');
  expect(failed).toBe('failed');
  const failedAt = Date.now();
  // Its connect published it (a control: the early path ran), then Docker undid the start.
  const id = (await lab.docker(['inspect', '-f', '{{.Id}}', 'nostart'])).trim();
  await d.waitForLog(appliedFor(`docker:network:connect:${id}`), 2000);
  await eventually(async () => !(await liveRules(lab)).includes('--dport 18090'), 2000);
  console.log(`failed start: its early rules gone ${Date.now() - failedAt} ms after docker start failed, or sooner`);
});

/**
 * Legacy `--link` with ICC off, as Docker honours it: the linking container reaches the
 * linked one on its exposed ports, and only those; other containers reach nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

let lab: Lab;
const files = scratch();

beforeAll(async () => {
  lab = await startLab();
  await lab.runHttp('db', { ports: [81], runArgs: ['--expose', '80'] });
  await Promise.all([lab.runHttp('web', { runArgs: ['--link', 'db'] }), lab.runHttp('other')]);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

it('with ICC off on the default bridge, a link opens exactly the exposed port to the linking container', async () => {
  const policy = files.policy('policy.yaml', 'version: 1\nnetworks:\n  bridge: { icc: deny }\n');
  const applied = await dockward(lab, ['apply', '--policy', policy]);
  expect(applied.stderr).toBe('');
  const db = await lab.containerIp('db');
  const [linked, unexposed, unlinked, control] = await Promise.all([
    lab.http({ container: 'web' }, `http://${db}:80/`),
    lab.http({ container: 'web' }, `http://${db}:81/`),
    lab.http({ container: 'other' }, `http://${db}:80/`),
    lab.http({ container: 'db' }, `http://${db}:81/`),
  ]);
  expect(linked).toBe('db');
  expect(unexposed).toBeNull();
  expect(unlinked).toBeNull();
  expect(control).toBe('db');
});

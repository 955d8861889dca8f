/**
 * `dockward.rules` labels with real traffic: a label opens its own container to one more
 * source and nothing else; a malformed label is ignored for its container alone; a label
 * baked into an image (docker commit --change LABEL) is ignored unless the policy trusts
 * image labels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const A = LAB_ADDR.external.client;
const B = LAB_ADDR.external.client2;
const policy = (trust: boolean) => `version: 1
defaults: { published: deny }
labels: { enabled: true, trustImageLabels: ${trust} }
rules:
  - { name: b-to-plain, ports: [8082], from: [${B}/32] }
`;

let lab: Lab;
const files = scratch();

async function apply(yaml: string) {
  const result = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', yaml)]);
  expect(result.exitCode).toBe(0);
  return result.stderr;
}

const get = (source: string, port: number) => lab.http('external', `http://${EXT}:${port}/`, { source });

beforeAll(async () => {
  lab = await startLab();
  await Promise.all([
    // Its label also names 8082, which is plain's port: it must not open plain.
    lab.runHttp('labelled', { publish: ['8081:80'], labels: { 'dockward.rules': `allow 8081,8082 from ${A}/32` } }),
    lab.runHttp('plain', { publish: ['8082:80'] }),
    lab.runHttp('broken', { publish: ['8083:80'], labels: { 'dockward.rules': 'allow everything from everywhere' } }),
  ]);
  await lab.docker(['commit', '--change', 'LABEL dockward.rules="allow 8084"', 'plain', 'dw-baked:1']);
  await lab.docker(['run', '-d', '--name', 'baked', '--stop-timeout', '1', '-e', 'DWLAB_NAME=baked', '-p', '8084:80', 'dw-baked:1']);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('dockward.rules labels', () => {
  it('a label adds a source for its own container only; a malformed one is ignored for its container alone', async () => {
    const notes = await apply(policy(false));
    expect(notes).toMatch(/note: container [0-9a-f]{12} \("broken"\): dockward\.rules label ignored: clause 1/);
    const seen = await Promise.all([get(A, 8081), get(B, 8081), get(A, 8082), get(B, 8082), get(A, 8083), get(B, 8083)]);
    expect(seen).toEqual(['labelled', null, null, 'plain', null, null]);
  });

  it('a label baked into the image is ignored by default, and counts with trustImageLabels', async () => {
    const labels = JSON.parse(await lab.docker(['inspect', '-f', '{{json .Config.Labels}}', 'baked'])) as Record<string, string>;
    expect(labels['dockward.rules']).toBe('allow 8084');
    expect(await apply(policy(false))).toMatch(/\("baked"\): dockward\.rules label inherited from its image; ignored/);
    expect(await get(A, 8084)).toBeNull();
    await apply(policy(true));
    expect(await get(A, 8084)).toBe('baked');
    expect(await get(A, 8081), 'positive control').toBe('labelled');
  });
});

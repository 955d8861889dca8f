/**
 * `dockward.rules` labels with real traffic: a label opens its own container to one more
 * source and nothing else; a malformed label is ignored for its container alone (the
 * file's rules still apply to it); a label baked into an image (docker commit --change
 * LABEL) is ignored unless the policy trusts image labels, and doctor, explain, the log
 * and status all say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, scratch, startDockward } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const A = LAB_ADDR.external.client;
const B = LAB_ADDR.external.client2;
const policy = (trust: boolean) => `version: 1
defaults: { published: deny }
labels: { enabled: true, trustImageLabels: ${trust} }
rules:
  - { name: b-to-plain, ports: [8082], from: [${B}/32] }
  - { name: b-to-broken, ports: [8083], from: [${B}/32] }
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
    // broken: its label is ignored, the file's rule for it is not.
    expect(seen).toEqual(['labelled', null, null, 'plain', null, 'broken']);
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

/** The warning every report gives about the baked label (doctor and status prefix it with "warning: "). */
const INHERITED = /container [0-9a-f]{12} \("baked"\): dockward\.rules label inherited from its image; ignored \(policy labels\.trustImageLabels is false\)/;

describe('what is ignored is reported', () => {
  it('doctor --policy and explain baked warn that the label was inherited from its image', async () => {
    const file = files.policy('policy.yaml', policy(false));
    const doctor = await dockward(lab, ['doctor', '--policy', file]);
    expect(doctor.stdout).toMatch(INHERITED);
    const explained = await dockward(lab, ['explain', 'baked', '--policy', file]);
    expect(explained.exitCode).toBe(0);
    expect(explained.stdout).toMatch(new RegExp(`warning: ${INHERITED.source}`));
    // Control: a container whose label counts has no such warning.
    expect((await dockward(lab, ['explain', 'labelled', '--policy', file])).stdout).not.toContain('warning:');
    const trusted = await dockward(lab, ['explain', 'baked', '--policy', files.policy('trusted.yaml', policy(true))]);
    expect(trusted.stdout).not.toMatch(INHERITED);
    expect(trusted.stdout).toContain('8084/tcp on every host address → baked:80: everyone: allow by label[0]');
  });

  it('dockward run logs and status show the ignored label and the rules left out for a missing ipset', async () => {
    const withBan = policy(false).replace('rules:\n', 'zones:\n  banned: { ipset: dw-not-there }\nrules:\n  - { name: bans, from: [zone:banned], action: deny }\n');
    const state = `${files.dir}/state`;
    const running = startDockward(lab, ['--policy', files.policy('ban.yaml', withBan), '--state-dir', state]);
    try {
      const noted = (part: string) => (r: { msg: string; [k: string]: unknown }) => r.msg === 'left out of the rules' && String(r.note).includes(part);
      await running.waitForLog(noted('inherited from its image'), 20_000);
      await running.waitForLog(noted('ipset dw-not-there does not exist (yet); the rules that use it are left out until it does'), 20_000);
      let text = '';
      await eventually(async () => {
        text = (await dockward(lab, ['status', '--state-dir', state])).stdout;
        return text.includes('warning: zone:banned: ipset dw-not-there does not exist (yet)');
      }, 20_000).catch(() => { throw new Error(`status shows no ipset warning:\n${text}`); });
      expect(text).toMatch(new RegExp(`warning: ${INHERITED.source}`));
      // The rest is in force: a positive control through the daemon's own rules.
      expect(await get(B, 8083)).toBe('broken');
    } finally {
      await running.stop();
    }
  });
});

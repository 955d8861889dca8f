import { mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/temp.js';
import { policyReloader, watchPolicyFile, watchedDirOf } from '../../../src/daemon/policy-watch.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';

const changes = (file: string) => {
  let count = 0;
  const watch = watchPolicyFile(file, () => { count++; }, 50);
  return { count: () => count, stop: watch.stop };
};
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('watching the policy file', () => {
  it('sees a save in place and a save by rename (as editors do), and ignores other files', async () => {
    const dir = tempDir('dw-watch-');
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'version: 1\n');
    const seen = changes(file);
    try {
      writeFileSync(join(dir, 'other.yaml'), 'x');
      await settle();
      expect(seen.count()).toBe(0);
      writeFileSync(file, 'version: 1\n# edited\n');
      await settle();
      expect(seen.count()).toBe(1);
      writeFileSync(join(dir, '.policy.yaml.swp'), 'version: 1\n# saved by rename\n');
      renameSync(join(dir, '.policy.yaml.swp'), file);
      await settle();
      expect(seen.count()).toBe(2);
      writeFileSync(file, 'version: 1\n# and again\n');
      await settle();
      expect(seen.count()).toBe(3);
    } finally {
      seen.stop();
    }
  });

  it('watches the nearest existing ancestor when the directory is missing, and follows it as it appears and goes', async () => {
    const root = tempDir('dw-watch-');
    const file = join(root, 'etc', 'dockward', 'policy.yaml');
    expect(watchedDirOf(file)).toBe(root);
    const seen = changes(file);
    try {
      mkdirSync(join(root, 'etc', 'dockward'), { recursive: true });
      await settle();
      writeFileSync(file, 'version: 1\n');
      await settle();
      expect(seen.count()).toBeGreaterThanOrEqual(1);
      const before = seen.count();
      writeFileSync(file, 'version: 1\n# edited\n');
      await settle();
      expect(seen.count(), 'an edit once the directory exists').toBe(before + 1);
      rmSync(join(root, 'etc'), { recursive: true });
      await settle();
      const gone = seen.count();
      expect(gone).toBeGreaterThan(before + 1);
      mkdirSync(join(root, 'etc', 'dockward'), { recursive: true });
      writeFileSync(file, 'version: 1\n# back\n');
      await settle();
      expect(seen.count(), 'recreated after its directory was removed').toBeGreaterThan(gone);
    } finally {
      seen.stop();
    }
  });
});

describe('reloading the policy', () => {
  const GOOD = 'version: 1\ndefaults: { published: deny }\n';

  it('once a file has been loaded from the default path, its deletion is an error, not the built-in default', async () => {
    const dir = tempDir('dw-reload-');
    const file = join(dir, 'policy.yaml');
    const reload = policyReloader(file, false);
    expect(await reload()).toEqual({ ok: true, policy: BUILTIN_DEFAULT });
    writeFileSync(file, GOOD);
    expect(await reload()).toMatchObject({ ok: true, hash: expect.any(String) });
    unlinkSync(file);
    expect(await reload()).toEqual({ ok: false, file, issues: [{ path: '', message: 'file not found' }] });
    writeFileSync(file, GOOD);
    expect(await reload()).toMatchObject({ ok: true, hash: expect.any(String) });
  });

  it('a file in force at start must stay: its deletion is an error', async () => {
    const dir = tempDir('dw-reload-');
    const file = join(dir, 'policy.yaml');
    const reload = policyReloader(file, true);
    expect(await reload()).toMatchObject({ ok: false });
  });
});

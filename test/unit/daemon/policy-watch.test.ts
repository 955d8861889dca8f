import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
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

  it('sees a change through a symlink: its target edited in place (in another directory or the same), its link swapped', async () => {
    const dir = tempDir('dw-watch-');
    const checkout = join(dir, 'checkout');
    mkdirSync(checkout);
    const target = join(checkout, 'pol-b.yaml');
    const other = join(dir, 'pol-c.yaml');
    writeFileSync(target, 'version: 1\n');
    writeFileSync(other, 'version: 1\n# c\n');
    const file = join(dir, 'policy.yaml');
    symlinkSync(target, file);
    let count = 0;
    const watch = watchPolicyFile(file, () => { count++; }, 50, 100);
    const seen = async (n: number) => {
      const since = Date.now();
      while (count < n && Date.now() - since < 2_000) await new Promise((r) => setTimeout(r, 20));
      return count;
    };
    try {
      writeFileSync(target, 'version: 1\n# edited behind the link\n');
      expect(await seen(1)).toBe(1);
      // Another link to another file, swapped in by rename (as `ln -sfn` does).
      symlinkSync(other, join(dir, 'policy.yaml.new'));
      renameSync(join(dir, 'policy.yaml.new'), file);
      expect(await seen(2)).toBe(2);
      writeFileSync(other, 'version: 1\n# c, edited\n');
      expect(await seen(3)).toBe(3);
      await new Promise((r) => setTimeout(r, 400));
      expect(count, 'each change reported once').toBe(3);
    } finally {
      watch.stop();
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

import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchPolicyFile } from '../../../src/daemon/policy-watch.js';

const changes = (file: string) => {
  let count = 0;
  const watch = watchPolicyFile(file, () => { count++; }, 50);
  return { count: () => count, stop: watch.stop };
};
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('watching the policy file', () => {
  it('sees a save in place and a save by rename (as editors do), and ignores other files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-watch-'));
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
});

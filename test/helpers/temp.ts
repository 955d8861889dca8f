/**
 * Scratch directories that do not outlive their test: removed when the test that made one
 * ends (or, made outside a test, when the file's tests end), whether it passed or failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    onTestFinished(remove);
  } catch {
    // Not inside a test: at the end of the file's tests.
    afterAll(remove);
  }
  return dir;
}

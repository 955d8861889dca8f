/**
 * Reload the policy when its file changes. The directory is watched, not the file: editors
 * that save by writing a new file and renaming it over the old one replace the inode, and
 * a watch on the old inode would go silent.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export function watchPolicyFile(file: string, onChange: () => void, settleMs = 200): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file)) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(onChange, settleMs);
    });
  } catch {
    watcher = undefined;
  }
  return {
    stop() {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}

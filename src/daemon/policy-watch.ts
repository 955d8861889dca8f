/**
 * Reload the policy when its file changes. The directory is watched, not the file: editors
 * that save by writing a new file and renaming it over the old one replace the inode, and
 * a watch on the old inode would go silent. A directory that does not exist (yet) is no
 * reason to stop watching: the nearest existing ancestor is watched instead, and the watch
 * moves down as the directories appear (or back up when they are removed), so a policy
 * created later in /etc/dockward is still seen.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, relative, sep } from 'node:path';
import { loadPolicy, type LoadResult } from '../policy/load.js';

/** The directory to watch for `file`: its own, or the nearest ancestor that exists. */
export function watchedDirOf(file: string, exists: (path: string) => boolean = existsSync): string {
  let dir = dirname(file);
  while (!exists(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function watchPolicyFile(file: string, onChange: () => void, settleMs = 200): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let watched = '';
  let stopped = false;

  const changed = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, settleMs);
  };

  /** Names in `watched` that matter: the file itself, or the next directory on the way to it. */
  const concerns = (name: string | null): boolean => {
    if (name === null) return true;
    const next = relative(watched, file).split(sep)[0];
    return name === next || name === basename(file);
  };

  const arm = (): void => {
    if (stopped) return;
    const dir = watchedDirOf(file);
    if (dir === watched && watcher) return;
    watcher?.close();
    watcher = undefined;
    const before = watched;
    watched = dir;
    try {
      watcher = watch(dir, (_event, name) => {
        const relevant = concerns(name);
        // Any event may be the watched directory's own removal: check where to watch.
        arm();
        if (relevant) changed();
      });
      // The watched directory itself removed: watch from further up.
      watcher.on('error', () => { watcher?.close(); watcher = undefined; arm(); });
    } catch {
      watcher = undefined;
    }
    // The file may have appeared before the watch on its new directory was in place.
    if (before !== '' && before !== dir) changed();
  };

  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}

/**
 * Loads the policy again, for a reload. Without an explicit path a missing file means the
 * built-in default — but only until a file has been loaded from there: from then on its
 * absence (deleted, renamed away) is an error like a broken file, and the last good policy
 * stays; silently falling back to the permissive default would open every port.
 */
export function policyReloader(path: string, mustExist: boolean): () => Promise<LoadResult> {
  let fileLoaded = mustExist;
  return async () => {
    const result = await loadPolicy(fileLoaded ? path : undefined, path);
    if (result.ok && result.hash !== undefined) fileLoaded = true;
    return result;
  };
}

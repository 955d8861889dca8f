/**
 * Reload the policy when its file changes. The directory is watched, not the file: editors
 * that save by writing a new file and renaming it over the old one replace the inode, and
 * a watch on the old inode would go silent. A directory that does not exist (yet) is no
 * reason to stop watching: the nearest existing ancestor is watched instead, and the watch
 * moves down as the directories appear (or back up when they are removed), so a policy
 * created later in /etc/dockward is still seen.
 *
 * A policy reached through a symlink (a config-management checkout, a Kubernetes-style
 * `..data` swap) changes where no watched name does: its target is edited, or a link
 * further along is swapped. So the file as it resolves is also looked at every second
 * (one stat), and a change no event announced counts too.
 */
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, relative, sep } from 'node:path';
import { loadPolicy, type LoadResult } from '../policy/load.js';

/** The directory to watch for `file`: its own, or the nearest ancestor that exists. */
export function watchedDirOf(file: string, exists: (path: string) => boolean = existsSync): string {
  let dir = dirname(file);
  while (!exists(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** What the file resolves to, as far as a change goes: '' when it does not exist. */
function resolvedState(file: string): string {
  try {
    const s = statSync(file);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

export function watchPolicyFile(file: string, onChange: () => void, settleMs = 200, pollMs = 1_000): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let watched = '';
  let stopped = false;
  /** The resolved file when the last change was reported: the poll reports only what no event did. */
  let reported = resolvedState(file);

  const changed = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reported = resolvedState(file);
      onChange();
    }, settleMs);
  };
  const poll = setInterval(() => {
    if (!timer && resolvedState(file) !== reported) changed();
  }, pollMs);
  poll.unref();

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
      clearInterval(poll);
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

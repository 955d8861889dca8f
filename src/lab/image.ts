/**
 * The lab's only image, built locally because no registry is reachable: Debian's static
 * busybox with a link per applet, and /lib, /lib64 pointing into /usr so that the
 * host's /usr, bind-mounted read-only, runs /usr/bin/python3 inside a container
 * (Debian 12 is merged-/usr: the loader and libc live under /usr/lib*).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, statSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './netns.js';
import { exists, removeDirSync } from './teardown.js';

export const IMAGE = 'dwlab/busybox:1';

/** Bump when the root filesystem layout changes, so cached tars are rebuilt. */
const LAYOUT_VERSION = '1';

function findBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (exists(p)) return p;
  throw new Error('busybox not found: install the busybox-static package');
}

async function applets(busybox: string): Promise<string[]> {
  const { stdout } = await run(busybox, ['--list']);
  return stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
}

function populate(root: string, busybox: string, names: readonly string[]): void {
  for (const d of ['bin', 'etc', 'www', 'tmp', 'usr', 'proc', 'sys', 'dev', 'root']) mkdirSync(join(root, d));
  copyFileSync(busybox, join(root, 'bin/busybox'));
  for (const a of names) symlinkSync('busybox', join(root, 'bin', a));
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('usr/lib64', join(root, 'lib64'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

async function buildTar(path: string): Promise<void> {
  const busybox = findBusybox();
  const names = await applets(busybox);
  const work = mkdtempSync(join(tmpdir(), 'dwlab-rootfs-'));
  try {
    const root = join(work, 'root');
    mkdirSync(root);
    populate(root, busybox, names);
    const partial = join(work, 'image.tar');
    await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', partial, '.']);
    renameSync(partial, path); // atomic: a concurrent builder never sees half a tar
  } catch (e) {
    throw new Error(`building the lab image failed: ${(e as Error).message}`);
  } finally {
    removeDirSync(work);
  }
}

/** Cache key: layout version and the busybox binary's identity. */
function tarPath(): string {
  const bb = statSync(findBusybox());
  const key = createHash('sha256').update(`${LAYOUT_VERSION}:${bb.size}:${bb.mtimeMs}`).digest('hex').slice(0, 12);
  return join(tmpdir(), `dwlab-image-${key}.tar`);
}

let building: Promise<string> | undefined;

/** Path of the image tar, built once and reused by later labs and processes. */
export function imageTar(): Promise<string> {
  building ??= (async () => {
    const path = tarPath();
    if (!exists(path)) await buildTar(path);
    return path;
  })();
  building.catch(() => {
    building = undefined;
  });
  return building;
}

/** Imports the image into one dockerd (each lab has its own data-root). */
export async function importImage(docker: (args: string[]) => Promise<string>): Promise<void> {
  const tar = await imageTar();
  await docker(['import', '--change', 'CMD ["/bin/sh"]', tar, IMAGE]);
}

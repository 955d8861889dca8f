/**
 * Kernel settings the rules depend on, checked and set only where missing:
 *   - route_localnet on Docker's bridges (never globally): a connection from the host to a
 *     port published on 127.0.0.1 is translated to a container and leaves through the
 *     bridge with a loopback source until masqueraded; the kernel drops that unless the
 *     bridge allows it. Nothing from outside can use it: raw drops 127/8 not from lo.
 *   - bridge-nf-call-iptables/ip6tables: traffic between containers of one bridge passes
 *     filter FORWARD (ICC off, hairpin replies) only with it. Read in this namespace; set
 *     when 0; when missing (no br_netfilter), reported — `dockward doctor` says what is
 *     then not enforced.
 */
import { readFile, writeFile } from 'node:fs/promises';

export interface KernelState {
  /** What was changed, for the log. */
  readonly changed: readonly string[];
  /** What could not be made right, for the log and doctor. */
  readonly problems: readonly string[];
}

async function read(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then((t) => t.trim(), () => undefined);
}

async function ensureOne(path: string, changed: string[], problems: string[]): Promise<void> {
  const value = await read(path);
  if (value === '1') return;
  if (value === undefined) {
    problems.push(`${path} is missing`);
    return;
  }
  try {
    await writeFile(path, '1\n');
    changed.push(`${path}=1`);
  } catch (error) {
    problems.push(`cannot set ${path}: ${(error as Error).message}`);
  }
}

export async function ensureKernelState(bridges: readonly string[], root = '/proc/sys/net'): Promise<KernelState> {
  const changed: string[] = [];
  const problems: string[] = [];
  for (const name of ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables']) await ensureOne(`${root}/bridge/${name}`, changed, problems);
  for (const bridge of bridges) {
    const path = `${root}/ipv4/conf/${bridge}/route_localnet`;
    // A bridge Docker has not created yet has no entry: it gets one on the next reconcile.
    if ((await read(path)) !== undefined) await ensureOne(path, changed, problems);
  }
  return { changed, problems };
}

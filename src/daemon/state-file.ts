/**
 * What `dockward run` leaves on disk for others: status.json (read by `dockward status`
 * and monitoring) and the last good inventory (so that a start without Docker can still
 * protect the container subnets it has seen). Written atomically by rename.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import type { Ruleset } from '../ruleset/types.js';

export const DEFAULT_STATE_DIR = '/var/lib/dockward';

export interface StatusRecord {
  readonly pid: number;
  readonly startedAt: string;
  readonly backend: string;
  readonly policy: { readonly origin: string; readonly hash?: string; readonly error?: readonly string[] };
  /** What the last compile left out or ignored (a missing ipset, a label that does not parse). */
  readonly warnings?: readonly string[];
  readonly lastApply?: { readonly at: string; readonly durationMs: number; readonly changes: number };
  readonly lastError?: { readonly at: string; readonly message: string };
  readonly docker: { readonly reachable: boolean };
  readonly stats?: { readonly containers: number; readonly mappings: number; readonly rules: number };
  readonly applies: number;
  readonly repairs: number;
  /** The rulesets in force, as data: status compares the live rules with them by hash tags. */
  readonly desired: readonly Ruleset[];
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

export class StateDir {
  constructor(readonly dir: string) {}

  async writeStatus(record: StatusRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeAtomic(join(this.dir, 'status.json'), `${JSON.stringify(record)}\n`);
  }

  async readStatus(): Promise<StatusRecord | undefined> {
    return readJson<StatusRecord>(join(this.dir, 'status.json'));
  }

  async writeInventory(inventory: Inventory): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeAtomic(join(this.dir, 'inventory.json'), `${JSON.stringify(inventory)}\n`);
  }

  async readInventory(): Promise<Inventory | undefined> {
    return readJson<Inventory>(join(this.dir, 'inventory.json'));
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

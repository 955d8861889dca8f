/**
 * The one seam to the iptables programs: save and restore per family, through execa with
 * argument arrays (never a shell). The binaries are named per backend explicitly
 * (iptables-nft-restore, iptables-legacy-save) so the alternatives symlink cannot switch
 * backend under a running daemon.
 */
import { execa } from 'execa';
import type { Family, TableName } from '../ruleset/types.js';
import { flushBatcher, nftRunner, NftMissing, type ChainRef } from './nft-flush.js';
import { program, type Program } from './program.js';

export type Backend = 'nft' | 'legacy';

export interface Iptables {
  readonly backend: Backend;
  save(family: Family): Promise<string>;
  /**
   * `iptables-restore --noflush`; rejects with RestoreError, leaving what the failing table
   * held. `whole`: without --noflush, each table in the text replaced whole (exclusive mode).
   */
  restore(family: Family, text: string, options?: { readonly whole?: boolean }): Promise<void>;
  /** `iptables -t TABLE -S CHAIN`: the chain's rules, or undefined when the chain (or table) is missing. */
  listChain(family: Family, table: TableName, chain: string): Promise<string | undefined>;
  /**
   * Empty these chains, as `-F` lines would, when the backend has a cheaper way than
   * restore (nft: one transaction for every table and both families, dataplane/nft-flush.ts).
   * Rejects as restore does when a chain is not there.
   */
  flushChains?(family: Family, chains: readonly ChainRef[]): Promise<void>;
}

export class RestoreError extends Error {
  constructor(
    readonly family: Family,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    /** 1-based line of the input the program complained about, when it said. */
    readonly line: number | undefined,
    /** The failing line with up to three lines around it. */
    readonly excerpt: string,
  ) {
    super(`${family === 'ipv4' ? 'iptables' : 'ip6tables'}-restore failed (exit ${exitCode ?? '?'}): ${stderr.trim().split('\n')[0] ?? ''}`);
    this.name = 'RestoreError';
  }
}

/** "line 4 failed" (legacy) or "Error occurred at line: 4" (nft). */
export function failingLine(stderr: string): number | undefined {
  const m = /line:? (\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export function excerpt(text: string, line: number | undefined, around = 3): string {
  if (line === undefined) return '';
  const lines = text.split('\n');
  const from = Math.max(0, line - 1 - around);
  return lines.slice(from, line + around).map((l, i) => `${from + i + 1 === line ? '>' : ' '} ${from + i + 1}: ${l}`).join('\n');
}

function binary(backend: Backend, family: Family, verb?: 'save' | 'restore'): string {
  return `${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${backend}${verb ? `-${verb}` : ''}`;
}

/** The restore input that empties these chains. */
export function flushText(chains: readonly ChainRef[]): string {
  const tables = [...new Set(chains.map((c) => c.table))];
  return tables.map((t) => [`*${t}`, ...chains.filter((c) => c.table === t).map((c) => `-F ${c.chain}`), 'COMMIT\n'].join('\n')).join('');
}

/**
 * `standby`: for a long-running process (the daemon) on nft, keep a restore program per
 * family, and an nft, started and waiting for their input (dataplane/program.ts): an
 * event's restore then does not wait for the program to start. A one-off command runs
 * each fresh.
 */
export function systemIptables(backend: Backend, { standby = false } = {}): Iptables {
  const ahead = standby && backend === 'nft';
  const restorer = (family: Family) => ({
    noflush: program(binary(backend, family, 'restore'), ['--noflush', '-w', '5'], { ahead }),
    whole: program(binary(backend, family, 'restore'), ['-w', '5']),
  });
  const restorers = { ipv4: restorer('ipv4'), ipv6: restorer('ipv6') };
  const restore: Iptables['restore'] = async (family, text, options) => {
    const result = await restorers[family][options?.whole ? 'whole' : 'noflush'].run(text);
    if (result.exitCode === 0) return;
    const line = failingLine(result.stderr);
    throw new RestoreError(family, result.exitCode, result.stderr, line, excerpt(text, line));
  };
  return {
    backend,
    async save(family) {
      const { stdout } = await execa(binary(backend, family, 'save'), [], { timeout: 30_000 });
      return stdout;
    },
    restore,
    ...(backend === 'nft' ? { flushChains: nftFlush(restore, program('nft', ['-f', '-'], { ahead })) } : {}),
    async listChain(family, table, chain) {
      const result = await execa(binary(backend, family), ['-w', '5', '-t', table, '-S', chain], { reject: false, timeout: 10_000 });
      return result.exitCode === 0 ? result.stdout : undefined;
    },
  };
}

/**
 * Flushes through nft while it is installed. Whatever nft refuses is tried once more through
 * the restore: a chain that is really missing fails there too (and the caller applies in
 * full), while an nft that cannot handle these tables costs only the detour.
 */
function nftFlush(restore: Iptables['restore'], nft: Program): NonNullable<Iptables['flushChains']> {
  const batch = flushBatcher(nftRunner(nft));
  let missing = false;
  return async (family, chains) => {
    if (!missing) {
      try {
        return await batch(family, chains);
      } catch (error) {
        if (error instanceof NftMissing) missing = true;
      }
    }
    await restore(family, flushText(chains));
  };
}

/**
 * The backend the `iptables` command points to, unless the other one already holds
 * DOCKWARD chains (a host switched alternatives since dockward last ran).
 */
export async function detectBackend(): Promise<Backend> {
  const { stdout } = await execa('iptables', ['--version'], { reject: false });
  const preferred: Backend = stdout.includes('legacy') ? 'legacy' : 'nft';
  const other: Backend = preferred === 'nft' ? 'legacy' : 'nft';
  const theirs = await execa(binary(other, 'ipv4', 'save'), [], { reject: false });
  return theirs.exitCode === 0 && theirs.stdout.includes(':DOCKWARD-') ? other : preferred;
}

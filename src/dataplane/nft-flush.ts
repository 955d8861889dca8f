/**
 * Emptying chains on the nft backend through `nft -f -`, in one transaction. On nf_tables a
 * transaction that deletes rules costs the kernel several times one that adds them
 * (measured here: `nft add rule` ~4 ms, `nft flush chain` 12–20 ms, alike with 5 rules
 * loaded and with 26,000; two such transactions in parallel take as long as in a row), and
 * iptables-nft-restore commits every table as a transaction of its own. A container's stop
 * that empties its chains in three tables of two families paid that price five or six
 * times (54 ms at 1,000 containers); one nft transaction pays it once (19 ms).
 *
 * iptables-nft keeps its rules in plain nft tables (ip/ip6 raw, mangle, filter, nat), so
 * `flush chain ip filter X` is exactly `iptables -t filter -F X`. Requests made in the same
 * turn of the event loop (both families of one apply) share one transaction.
 */
import { program, type Program } from './program.js';
import type { Family, TableName } from '../ruleset/types.js';

export interface ChainRef {
  readonly table: TableName;
  readonly chain: string;
}

/** Runs one nft script; rejects when nft could not be run or refused it (nothing of it was committed). */
export type RunNft = (script: string) => Promise<void>;

export class NftMissing extends Error {}

/** Scripts run through `nft` (a program kept waiting for its input, for the daemon: dataplane/program.ts). */
export function nftRunner(nft: Program = program('nft', ['-f', '-'])): RunNft {
  return async (script) => {
    const result = await nft.run(script);
    if (result.exitCode === 0) return;
    if (result.missing) throw new NftMissing('nft is not installed');
    throw new Error(`nft -f failed (exit ${result.exitCode ?? '?'}): ${result.stderr.trim().split('\n')[0] ?? ''}`);
  };
}

export const runNft: RunNft = nftRunner();

export function flushScript(family: Family, chains: readonly ChainRef[]): string {
  const nftFamily = family === 'ipv4' ? 'ip' : 'ip6';
  return chains.map((c) => `flush chain ${nftFamily} ${c.table} ${c.chain}\n`).join('');
}

interface Waiting {
  readonly script: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** flush(family, chains): queued until the current turn of the event loop ends, then run with every other request in one script. */
export function flushBatcher(run: RunNft = runNft): (family: Family, chains: readonly ChainRef[]) => Promise<void> {
  let queue: Waiting[] = [];
  const drain = () => {
    const batch = queue;
    queue = [];
    run(batch.map((w) => w.script).join('')).then(() => { for (const w of batch) w.resolve(); }, (error: unknown) => { for (const w of batch) w.reject(error); });
  };
  return (family, chains) => new Promise<void>((resolve, reject) => {
    if (queue.length === 0) setImmediate(drain);
    queue.push({ script: flushScript(family, chains), resolve, reject });
  });
}

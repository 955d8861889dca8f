/**
 * Emptying chains through nft (dataplane/nft-flush.ts) against the real iptables-nft
 * tables, in a private network namespace: both families' chains in one nft transaction,
 * rules gone and chains kept as `-F` leaves them, seen by iptables-nft-save; a script that
 * names a missing chain changes nothing at all; through the iptables seam, an nft that
 * refuses or is not installed leaves the flush to iptables-restore.
 */
import { chmod, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withNetns, type Netns } from '../helpers/netns.js';
import { tempDir } from '../helpers/temp.js';

const MODULE = new URL('../../dist/dataplane/nft-flush.js', import.meta.url).pathname;
const IPTABLES = new URL('../../dist/dataplane/iptables.js', import.meta.url).pathname;

/** Runs flushBatcher inside the namespace with the requests given; prints how many nft scripts ran, or the error. */
async function flushInside(ns: Netns, requests: readonly [string, readonly { table: string; chain: string }[]][]) {
  const script = `
    import { flushBatcher, runNft } from ${JSON.stringify(MODULE)};
    let runs = 0;
    const flush = flushBatcher(async (s) => { runs++; await runNft(s); });
    const requests = ${JSON.stringify(requests)};
    const results = await Promise.allSettled(requests.map(([family, chains]) => flush(family, chains)));
    console.log(JSON.stringify({ runs, results: results.map((r) => r.status === 'fulfilled' ? 'ok' : String(r.reason.message)) }));`;
  const result = await ns.exec(process.execPath, ['--input-type=module', '-e', script]);
  expect(result.stderr).toBe('');
  return JSON.parse(String(result.stdout)) as { runs: number; results: string[] };
}

/** systemIptables('nft').flushChains inside the namespace, with PATH as given: 'ok' or the error. */
async function seamFlush(ns: Netns, path: string, chains: readonly { table: string; chain: string }[]): Promise<string> {
  const script = `
    import { systemIptables } from ${JSON.stringify(IPTABLES)};
    await systemIptables('nft').flushChains('ipv4', ${JSON.stringify(chains)}).then(() => console.log('ok'), (e) => console.log(e.message));`;
  const result = await ns.exec('env', [`PATH=${path}`, process.execPath, '--input-type=module', '-e', script]);
  return String(result.stdout).trim();
}

/** A directory holding the iptables programs and, unless left out, an `nft` that refuses everything. */
async function programs(withRefusingNft: boolean): Promise<string> {
  const dir = tempDir('dw-path-');
  for (const tool of ['iptables-nft-restore', 'ip6tables-nft-restore']) await symlink(`/usr/sbin/${tool}`, join(dir, tool));
  if (withRefusingNft) {
    await writeFile(join(dir, 'nft'), '#!/bin/sh\necho "Error: this nft refuses" >&2\nexit 1\n');
    await chmod(join(dir, 'nft'), 0o755);
  }
  return dir;
}

async function load(ns: Netns, family: 'iptables' | 'ip6tables', text: string): Promise<void> {
  expect((await ns.exec(`${family}-nft-restore`, ['--noflush'], { input: text })).exitCode).toBe(0);
}

const chainsV4 = `*filter
:DOCKWARD-C-1 - [0:0]
-A DOCKWARD-C-1 -d 10.0.0.2/32 -p tcp -m conntrack --ctstate DNAT --ctorigdstport 8080 -m tcp --dport 80 -m comment --comment "DW:0000000000000001" -j ACCEPT
COMMIT
*nat
:DOCKWARD-C-1 - [0:0]
-A DOCKWARD-C-1 -p tcp -m tcp --dport 8080 -m comment --comment "DW:0000000000000002" -j DNAT --to-destination 10.0.0.2:80
COMMIT
`;
const chainsV6 = `*filter
:DOCKWARD-C-1 - [0:0]
-A DOCKWARD-C-1 -d fd00::2/128 -p tcp -m tcp --dport 80 -m comment --comment "DW:0000000000000003" -j ACCEPT
COMMIT
`;

async function rules(ns: Netns, tool: string): Promise<string[]> {
  return String((await ns.exec(tool, [])).stdout).split('\n').filter((l) => l.startsWith('-A DOCKWARD-C-1') || l.startsWith(':DOCKWARD-C-1'));
}

describe('emptying chains through nft, on iptables-nft tables', () => {
  it('empties both families\' chains in one transaction and keeps the chains', async () => {
    await withNetns(async (ns) => {
      await load(ns, 'iptables', chainsV4);
      await load(ns, 'ip6tables', chainsV6);
      const out = await flushInside(ns, [
        ['ipv4', [{ table: 'filter', chain: 'DOCKWARD-C-1' }, { table: 'nat', chain: 'DOCKWARD-C-1' }]],
        ['ipv6', [{ table: 'filter', chain: 'DOCKWARD-C-1' }]],
      ]);
      expect(out).toEqual({ runs: 1, results: ['ok', 'ok'] });
      expect(await rules(ns, 'iptables-nft-save')).toEqual([':DOCKWARD-C-1 - [0:0]', ':DOCKWARD-C-1 - [0:0]']);
      expect(await rules(ns, 'ip6tables-nft-save')).toEqual([':DOCKWARD-C-1 - [0:0]']);
    });
  });

  it('a script naming a chain that is not there changes nothing, in either family', async () => {
    await withNetns(async (ns) => {
      await load(ns, 'iptables', chainsV4);
      await load(ns, 'ip6tables', chainsV6);
      const before = [await rules(ns, 'iptables-nft-save'), await rules(ns, 'ip6tables-nft-save')];
      const out = await flushInside(ns, [
        ['ipv4', [{ table: 'filter', chain: 'DOCKWARD-C-1' }]],
        ['ipv6', [{ table: 'filter', chain: 'DOCKWARD-C-1' }, { table: 'nat', chain: 'DOCKWARD-C-9' }]],
      ]);
      expect(out.runs).toBe(1);
      expect(out.results).toEqual([expect.stringMatching(/^nft -f failed/), expect.stringMatching(/^nft -f failed/)]);
      expect([await rules(ns, 'iptables-nft-save'), await rules(ns, 'ip6tables-nft-save')]).toEqual(before);
      expect(before[0]).toHaveLength(4);
    });
  });

  it('through the iptables seam, an nft that refuses or is missing leaves the flush to iptables-restore', async () => {
    await withNetns(async (ns) => {
      for (const withRefusingNft of [true, false]) {
        await load(ns, 'iptables', chainsV4);
        const path = await programs(withRefusingNft);
        expect(await seamFlush(ns, path, [{ table: 'filter', chain: 'DOCKWARD-C-1' }, { table: 'nat', chain: 'DOCKWARD-C-1' }]), `refusing nft: ${withRefusingNft}`).toBe('ok');
        expect(await rules(ns, 'iptables-nft-save')).toEqual([':DOCKWARD-C-1 - [0:0]', ':DOCKWARD-C-1 - [0:0]']);
        expect(await seamFlush(ns, path, [{ table: 'filter', chain: 'DOCKWARD-C-9' }]), 'a chain that is not there fails both ways')
          .toMatch(/^iptables-restore failed/);
      }
    });
  });
});

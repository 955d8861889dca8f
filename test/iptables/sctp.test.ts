/**
 * SCTP publications, loaded with the real iptables-restore of both backends in a private
 * namespace (this kernel lists the sctp match but has no SCTP protocol, so traffic cannot
 * cover it). Then a refusal by the real program: with an extension directory that lacks
 * libxt_sctp.so, iptables-restore refuses every `-p sctp` line, as on a system without
 * the sctp match — the SCTP publications are left out and everything else loads.
 */
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withNetns, type Netns } from '../helpers/netns.js';

const inventory = join(import.meta.dirname, '../golden/cases/10-sctp-ipv6/inventory.json');
const XTABLES = '/usr/lib/x86_64-linux-gnu/xtables';

async function rules(ns: Netns, backend: string, family: 'iptables' | 'ip6tables'): Promise<string[]> {
  return String((await ns.exec(`${family}-${backend}-save`, [])).stdout).split('\n').filter((l) => l.startsWith('-A '));
}

/** The extensions iptables loads, less one: what a system without that extension has. */
async function extensionsWithout(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-xtables-'));
  for (const file of await readdir(XTABLES)) if (file !== name) await symlink(join(XTABLES, file), join(dir, file));
  return dir;
}

for (const backend of ['nft', 'legacy'] as const) {
  describe(`SCTP with iptables-${backend}`, () => {
    const apply = ['apply', '--backend', backend, '--inventory', inventory];

    it('loads SCTP DNAT and filter rules in both families, next to the TCP ones', async () => {
      await withNetns(async (ns) => {
        const result = await ns.dockward(apply);
        expect(result.stderr).toBe('');
        expect(result.exitCode).toBe(0);
        const v4 = await rules(ns, backend, 'iptables');
        const v6 = await rules(ns, backend, 'ip6tables');
        expect(v4.filter((l) => /-p sctp -m sctp --dport 3868 .*-j DNAT --to-destination 172\.17\.0\.2:3868$/.test(l))).toHaveLength(1);
        expect(v4.filter((l) => /-d 172\.17\.0\.2\/32 -p sctp .*--ctorigdstport 3868 -m sctp --dport 3868 .*-j ACCEPT$/.test(l))).toHaveLength(1);
        expect(v6.filter((l) => /-p sctp -m sctp --dport 3868 .*-j DNAT --to-destination \[fd00:d0c::2\]:3868$/.test(l))).toHaveLength(1);
        expect(v6.filter((l) => /-d fd00:d0c::2\/128 -p sctp .*--ctorigdstport 3868 -m sctp --dport 3868 .*-j ACCEPT$/.test(l))).toHaveLength(1);
        expect(v4.join('\n')).toContain('-j DNAT --to-destination 172.17.0.2:80');
        expect((await ns.dockward(apply)).stdout, 'loaded as compiled: nothing differs on a second apply').toContain('in sync, nothing changed');
      });
    });

    it('a protocol iptables-restore refuses fails alone: SCTP left out and reported, every other rule loaded', async () => {
      const xtables = await extensionsWithout('libxt_sctp.so');
      try {
        await withNetns(async (ns) => {
          const result = await ns.dockward(apply, { XTABLES_LIBDIR: xtables });
          expect(result.exitCode).toBe(0);
          expect(result.stderr).toContain('warning: ipv4: the kernel refused sctp rules; sctp publications left out');
          expect(result.stderr).toContain('warning: ipv6: the kernel refused sctp rules; sctp publications left out');
          for (const family of ['iptables', 'ip6tables'] as const) {
            const live = await rules(ns, backend, family);
            expect(live.filter((l) => l.includes('sctp'))).toEqual([]);
            expect(live.some((l) => l.includes('-p tcp -m tcp --dport 8080') && l.includes('-j DNAT'))).toBe(true);
            expect(live.some((l) => l.includes('-j DOCKWARD-FORWARD'))).toBe(true);
          }
        });
      } finally {
        await rm(xtables, { recursive: true, force: true });
      }
    });
  });
}

/**
 * Real iptables-restore and iptables-save, both backends, inside a private network
 * namespace: apply, idempotence, foreign rules surviving, flush, and a failing restore.
 */
import { writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { saved, withNetns } from '../helpers/netns.js';

const cases = join(import.meta.dirname, '../golden/cases/01-basic');
const inventory = join(cases, 'inventory.json');
const policy = join(cases, 'policy.yaml');

function forwardLines(text: string): string[] {
  const filter = text.split('*filter')[1]?.split('COMMIT')[0] ?? '';
  return filter.split('\n').filter((l) => l.startsWith('-A FORWARD'));
}

for (const backend of ['nft', 'legacy'] as const) {
  describe(`apply with iptables-${backend}`, () => {
    const apply = ['apply', '--backend', backend, '--inventory', inventory, '--policy', policy];

    it('loads the rules, and a second apply changes nothing', async () => {
      await withNetns(async (ns) => {
        const first = await ns.dockward(apply);
        expect(first.stderr).not.toContain('dockward:');
        expect(first.exitCode).toBe(0);
        const after = await saved(ns, backend);
        const after6 = await saved(ns, backend, 'ipv6');
        expect(after).toContain('-A FORWARD -m comment --comment "DW:');
        expect(after).toContain('-j DNAT --to-destination 172.17.0.2:443');
        expect(after6).toContain('-A FORWARD -m comment --comment "DW:');
        expect(after6).toContain('-A DOCKWARD-FORWARD');
        const second = await ns.dockward(apply);
        expect(second.exitCode).toBe(0);
        expect(second.stdout).toMatch(/^ipv4 \(\w+\): in sync, nothing changed/m);
        expect(second.stdout).toMatch(/^ipv6 \(\w+\): in sync, nothing changed/m);
        expect(await saved(ns, backend)).toBe(after);
        expect(await saved(ns, backend, 'ipv6')).toBe(after6);
      });
    });

    it('keeps rules written by others, and its hooks stay first', async () => {
      await withNetns(async (ns) => {
        await ns.exec(`iptables-${backend}`, ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
        await ns.exec(`iptables-${backend}`, ['-N', 'OTHER-TOOL']);
        await ns.exec(`iptables-${backend}`, ['-A', 'FORWARD', '-j', 'OTHER-TOOL']);
        for (const tool of [`iptables-${backend}`, `ip6tables-${backend}`]) {
          expect((await ns.exec(tool, ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'])).exitCode).toBe(0);
        }
        await ns.exec(`ip6tables-${backend}`, ['-N', 'OTHER-TOOL']);
        await ns.exec(`ip6tables-${backend}`, ['-A', 'FORWARD', '-j', 'OTHER-TOOL']);
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        await ns.exec(`iptables-${backend}`, ['-I', 'FORWARD', '1', '-i', 'virbr0', '-j', 'ACCEPT']);
        await ns.exec(`ip6tables-${backend}`, ['-I', 'FORWARD', '1', '-i', 'virbr0', '-j', 'ACCEPT']);
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        for (const text of [await saved(ns, backend), await saved(ns, backend, 'ipv6')]) {
          expect(text).toContain('-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT');
          const forward = forwardLines(text);
          expect(forward).toHaveLength(4);
          expect(forward[0]).toContain('-j DOCKER-USER');
          expect(forward[1]).toContain('-j DOCKWARD-FORWARD');
          expect(forward.slice(2).sort()).toEqual(['-A FORWARD -i virbr0 -j ACCEPT', '-A FORWARD -j OTHER-TOOL']);
        }
      });
    });

    it('flush removes every owned chain and hook and leaves the rest', async () => {
      await withNetns(async (ns) => {
        for (const tool of [`iptables-${backend}`, `ip6tables-${backend}`]) {
          await ns.exec(tool, ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
        }
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        expect(await saved(ns, backend, 'ipv6'), 'control: there was something to flush in IPv6').toContain('DOCKWARD-FORWARD');
        const flushed = await ns.dockward(['flush', '--backend', backend]);
        expect(flushed.exitCode).toBe(0);
        for (const text of [await saved(ns, backend), await saved(ns, backend, 'ipv6')]) {
          expect(text).not.toContain('DOCKWARD');
          expect(text).not.toContain('DW:');
          expect(text).toContain('-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT');
          expect(text).toContain(':DOCKER-USER');
        }
      });
    });

    it('a failing restore exits 1 with the failing line and leaves the previous rules intact', async () => {
      await withNetns(async (ns) => {
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        const before = await saved(ns, backend);
        const bin = tempDir('dw-fail-');
        const wrapper = join(bin, `iptables-${backend}-restore`);
        // Feeds the real restore a broken rule at line 3, as a rejected rule would.
        await writeFile(wrapper, `#!/bin/sh\n{ head -n 2; echo '-A DOCKWARD-CANARY -j NO-SUCH-CHAIN'; cat; } | /usr/sbin/iptables-${backend}-restore "$@"\n`);
        await chmod(wrapper, 0o755);
        const other = join(cases, '../02-builtin-default/inventory.json');
        const failed = await ns.dockward(['apply', '--backend', backend, '--inventory', other], { PATH: `${bin}:${process.env['PATH']}` });
        expect(failed.exitCode).toBe(1);
        expect(failed.stderr).toContain('iptables-restore failed');
        expect(await saved(ns, backend)).toBe(before);
      });
    });
  });
}

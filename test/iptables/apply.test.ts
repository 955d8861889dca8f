/**
 * Real iptables-restore and iptables-save, both backends, inside a private network
 * namespace: apply, idempotence, foreign rules surviving, flush, and a failing restore.
 */
import { mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saved, withNetns } from '../helpers/netns.js';

const cases = join(import.meta.dirname, '../golden/cases/01-basic');
const inventory = join(cases, 'inventory.json');
const policy = join(cases, 'policy.yaml');

for (const backend of ['nft', 'legacy'] as const) {
  describe(`apply with iptables-${backend}`, () => {
    const apply = ['apply', '--backend', backend, '--inventory', inventory, '--policy', policy];

    it('loads the rules, and a second apply changes nothing', async () => {
      await withNetns(async (ns) => {
        const first = await ns.dockward(apply);
        expect(first.stderr).not.toContain('dockward:');
        expect(first.exitCode).toBe(0);
        const after = await saved(ns, backend);
        expect(after).toContain('-A FORWARD -m comment --comment "DW:');
        expect(after).toContain('-j DNAT --to-destination 172.17.0.2:443');
        const second = await ns.dockward(apply);
        expect(second.exitCode).toBe(0);
        expect(second.stdout).toContain('in sync, nothing changed');
        expect(await saved(ns, backend)).toBe(after);
      });
    });

    it('keeps rules written by others, and its hooks stay first', async () => {
      await withNetns(async (ns) => {
        await ns.exec(`iptables-${backend}`, ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
        await ns.exec(`iptables-${backend}`, ['-N', 'OTHER-TOOL']);
        await ns.exec(`iptables-${backend}`, ['-A', 'FORWARD', '-j', 'OTHER-TOOL']);
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        await ns.exec(`iptables-${backend}`, ['-I', 'FORWARD', '1', '-i', 'virbr0', '-j', 'ACCEPT']);
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        const text = await saved(ns, backend);
        expect(text).toContain('-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT');
        const filter = text.split('*filter')[1]?.split('COMMIT')[0] ?? '';
        const forward = filter.split('\n').filter((l) => l.startsWith('-A FORWARD'));
        expect(forward).toHaveLength(4);
        expect(forward[0]).toContain('-j DOCKER-USER');
        expect(forward[1]).toContain('-j DOCKWARD-FORWARD');
        expect(forward.slice(2).sort()).toEqual(['-A FORWARD -i virbr0 -j ACCEPT', '-A FORWARD -j OTHER-TOOL']);
      });
    });

    it('flush removes every owned chain and hook and leaves the rest', async () => {
      await withNetns(async (ns) => {
        await ns.exec(`iptables-${backend}`, ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        const flushed = await ns.dockward(['flush', '--backend', backend]);
        expect(flushed.exitCode).toBe(0);
        const text = await saved(ns, backend);
        expect(text).not.toContain('DOCKWARD');
        expect(text).not.toContain('DW:');
        expect(text).toContain('-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT');
      });
    });

    it('a failing restore exits 1 with the failing line and leaves the previous rules intact', async () => {
      await withNetns(async (ns) => {
        expect((await ns.dockward(apply)).exitCode).toBe(0);
        const before = await saved(ns, backend);
        const bin = await mkdtemp(join(tmpdir(), 'dw-fail-'));
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

/**
 * Restore programs started ahead of need (dataplane/program.ts): an input goes through the
 * program that was waiting for it, not one started for it; one that died is not replaced;
 * through the iptables seam in a private network namespace, errors still name the failing
 * line, nft's flushes go the same way, the daemon's process exits on its own, and the
 * programs left waiting then exit having changed nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { program } from '../../src/dataplane/program.js';
import { withNetns, saved } from '../helpers/netns.js';
import { tempDir } from '../helpers/temp.js';

const IPTABLES = new URL('../../dist/dataplane/iptables.js', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: string) => existsSync(`/proc/${pid}`);

describe('a program started ahead', () => {
  it('takes the next input through the one waiting, and runs fresh ones once that one has died', async () => {
    const dir = tempDir('dw-program-');
    const log = join(dir, 'started');
    const out = join(dir, 'out');
    // Notes its pid as it starts, before it reads anything.
    const p = program('sh', ['-c', `echo $$ >> ${log}; cat >> ${out}`], { ahead: true });
    const starts = () => readFileSync(log, 'utf8').trim().split('\n');
    expect(await p.run('one\n')).toEqual({ exitCode: 0, stderr: '' });
    await sleep(300);
    const [, waiting] = starts();
    expect(waiting, 'one started after the first run, waiting').toBeDefined();
    expect(alive(waiting!)).toBe(true);
    await p.run('two\n');
    expect(starts(), 'none started for the second input').toHaveLength(2);
    expect(alive(waiting!), 'the waiting one took it and ended').toBe(false);
    expect(readFileSync(out, 'utf8')).toBe('one\ntwo\n');
    await sleep(300);
    const next = starts()[2]!;
    process.kill(Number(next), 'SIGKILL');
    await sleep(200);
    expect(await p.run('three\n')).toEqual({ exitCode: 0, stderr: '' });
    await sleep(300);
    expect(readFileSync(out, 'utf8')).toBe('one\ntwo\nthree\n');
    expect(starts(), 'a fresh one ran "three"; none waits after a death').toHaveLength(4);
  });
});

describe('restores started ahead, on iptables-nft', () => {
  it('report a failing line as before, do not keep the daemon alive, and the one left waiting exits without changing anything', async () => {
    await withNetns(async (ns) => {
      const chain = (name: string, rule: string) => `*filter\n:${name} - [0:0]\n-A ${name} ${rule}\nCOMMIT\n`;
      const script = `
        import { execSync } from 'node:child_process';
        import { systemIptables } from ${JSON.stringify(IPTABLES)};
        const ipt = systemIptables('nft', { standby: true });
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const children = () => execSync('ps --ppid ' + process.pid + ' -o pid=,args=').toString().trim().split('\\n');
        const waiting = () => children().filter((l) => l.includes('iptables-nft-restore'));
        await ipt.restore('ipv4', ${JSON.stringify(chain('DW-A', '-s 192.0.2.1/32 -j ACCEPT'))});
        await sleep(300);
        const before = waiting();
        await ipt.restore('ipv4', ${JSON.stringify(chain('DW-B', '-s 192.0.2.2/32 -j ACCEPT'))});
        const taken = !waiting().some((l) => l === before[0]);
        await sleep(300);
        const error = await ipt.restore('ipv4', ${JSON.stringify(chain('DW-C', '-s 192.0.2.300/32 -j ACCEPT'))}).then(() => 'none', (e) => ({ line: e.line, message: e.message }));
        await sleep(300);
        const after = waiting().length;
        // A stop's flushes through nft, the same way.
        await ipt.flushChains('ipv4', [{ table: 'filter', chain: 'DW-A' }]);
        await sleep(300);
        const nftBefore = children().filter((l) => l.endsWith('nft -f -'));
        await ipt.flushChains('ipv4', [{ table: 'filter', chain: 'DW-B' }]);
        const nftTaken = !children().some((l) => l === nftBefore[0]);
        console.log(JSON.stringify({ before, taken, error, after, nftBefore, nftTaken }));`;
      const started = Date.now();
      const result = await ns.exec(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 } as never);
      expect(result.stderr).toBe('');
      expect(Date.now() - started, 'the process ended by itself, with a program still waiting').toBeLessThan(15_000);
      const report = JSON.parse(String(result.stdout)) as { before: string[]; taken: boolean; error: { line: number; message: string }; after: number; nftBefore: string[]; nftTaken: boolean };
      expect(report.before).toEqual([expect.stringMatching(/iptables-nft-restore --noflush -w 5$/)]);
      expect(report.taken).toBe(true);
      expect(report.error.line).toBe(3);
      expect(report.error.message).toMatch(/^iptables-restore failed \(exit \d+\)/);
      expect(report.after, 'one waits again after the failure').toBe(1);
      expect(report.nftBefore).toHaveLength(1);
      expect(report.nftTaken).toBe(true);
      // The one left waiting reads end-of-file and exits: nothing of it is left in the namespace.
      for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
        if (String((await execa('ip', ['netns', 'pids', ns.name])).stdout).trim() === '') break;
        await sleep(50);
      }
      expect(String((await execa('ip', ['netns', 'pids', ns.name])).stdout).trim()).toBe('');
      const rules = (await saved(ns, 'nft')).split('\n').filter((l) => l.includes(' DW-') || l.startsWith(':DW-'));
      expect(rules, 'both chains emptied, by a fresh nft and by the waiting one; nothing else').toEqual([':DW-A - [0:0]', ':DW-B - [0:0]']);
    });
  });
});

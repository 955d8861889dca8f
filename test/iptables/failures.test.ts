/**
 * Real iptables in a private network namespace, when things go wrong or are ambiguous:
 * a restore that reports success but loaded something else (read-back must catch it), a
 * restore that fails in a later table block (no refused source may get in meanwhile), and
 * which backend is used when the other one already holds dockward's chains.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { liveRuleset } from '../helpers/live.js';
import { trace, type HostView } from '../../src/trace/index.js';
import { saved, withNetns, type Netns } from '../helpers/netns.js';

const cases = join(import.meta.dirname, '../golden/cases');
const inventory = join(cases, '01-basic/inventory.json');

/** A restore wrapper first on PATH: `body` gets the restore text on stdin and the real command in $REAL. */
async function wrapper(backend: string, body: string): Promise<Record<string, string>> {
  const bin = tempDir('dw-wrap-');
  const file = join(bin, `iptables-${backend}-restore`);
  await writeFile(file, `#!/bin/sh\nREAL=/usr/sbin/iptables-${backend}-restore\n${body}\n`);
  await chmod(file, 0o755);
  return { PATH: `${bin}:${process.env['PATH']}` };
}

async function policyFile(name: string, yaml: string): Promise<string> {
  const dir = tempDir('dw-pol-');
  const file = join(dir, name);
  await writeFile(file, yaml);
  return file;
}

const HOST: HostView = {
  localAddresses: ['198.51.100.1'],
  bridges: [{ cidr: '172.17.0.0/16', iface: 'docker0' }, { cidr: '172.18.0.0/16', iface: 'br-222222222222' }, { cidr: '172.19.0.0/16', iface: 'br-333333333333' }],
};

/** Does a new TCP connection from `source` to the host's 443 end at the web container? */
function reachesWeb(save: string, source: string): boolean {
  const t = trace(liveRuleset(save), { family: 'ipv4', protocol: 'tcp', source, inIface: 'ext0', destination: '198.51.100.1', dport: 443 }, HOST);
  return t.verdict.kind === 'delivered' && t.verdict.address === '172.17.0.2';
}

const policyFrom = (sources: string[]) => `version: 1
defaults: { published: deny }
rules:
  - { ports: [443/tcp], from: [${sources.join(', ')}] }
`;

for (const backend of ['nft', 'legacy'] as const) {
  describe(`iptables-${backend} failures`, () => {
    it('a restore that exits 0 but loaded one line less: read-back catches it, apply exits 1 and says what differs', async () => {
      await withNetns(async (ns) => {
        // Drops the first rule of DOCKWARD-FORWARD on its way to the kernel, and says nothing.
        const env = await wrapper(backend, `sed '0,/^-A DOCKWARD-FORWARD /{/^-A DOCKWARD-FORWARD /d}' | "$REAL" "$@"`);
        const honest = await ns.dockward(['apply', '--backend', backend, '--inventory', inventory]);
        expect(honest.exitCode, 'control: the same apply without the wrapper').toBe(0);
        expect((await ns.dockward(['flush', '--backend', backend])).exitCode).toBe(0);
        const r = await ns.dockward(['apply', '--backend', backend, '--inventory', inventory], env);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(/^dockward: after restore the live ipv4 rules still differ: write-chain mangle\/DOCKWARD-FORWARD$/m);
        expect(r.stderr).not.toMatch(/^\s+at /m);
      });
    });

    it('a restore that fails in its last table block leaves no source in that either policy refuses', async () => {
      await withNetns(async (ns) => {
        const before = await policyFile('a.yaml', policyFrom(['192.0.2.0/24', '198.51.100.0/24']));
        const after = await policyFile('b.yaml', policyFrom(['203.0.113.0/24', '198.51.100.0/24']));
        expect((await ns.dockward(['apply', '--backend', backend, '--inventory', inventory, '--policy', before])).exitCode).toBe(0);
        const old = await saved(ns, backend);
        expect([reachesWeb(old, '192.0.2.5'), reachesWeb(old, '203.0.113.5'), reachesWeb(old, '198.51.100.5')]).toEqual([true, false, true]);
        // A rule the kernel refuses, just before the last COMMIT: every earlier table block commits.
        const env = await wrapper(backend, [
          't=$(mktemp); cat > "$t"; n=$(grep -n "^COMMIT$" "$t" | tail -n 1 | cut -d: -f1)',
          'echo "$n" > "$t.line"; sed "${n}i -A DOCKWARD-CANARY -j NO-SUCH-CHAIN" "$t" | "$REAL" "$@"',
        ].join('\n'));
        const failed = await ns.dockward(['apply', '--backend', backend, '--inventory', inventory, '--policy', after], env);
        expect(failed.exitCode).toBe(1);
        expect(failed.stderr).toContain('iptables-restore failed');
        const mixed = await saved(ns, backend);
        expect(mixed, 'some earlier table block did commit: the failure really was a later one').not.toBe(old);
        expect(reachesWeb(mixed, '192.0.2.5'), 'refused by the new policy').toBe(false);
        expect(reachesWeb(mixed, '203.0.113.5'), 'refused by the old policy').toBe(false);
        expect(reachesWeb(mixed, '198.51.100.5'), 'control: admitted by both').toBe(true);
        // And the next apply without the wrapper puts the new policy in force.
        expect((await ns.dockward(['apply', '--backend', backend, '--inventory', inventory, '--policy', after])).exitCode).toBe(0);
        const now = await saved(ns, backend);
        expect([reachesWeb(now, '192.0.2.5'), reachesWeb(now, '203.0.113.5')]).toEqual([false, true]);
      });
    });
  });
}

describe('backend detection', () => {
  async function backendUsed(ns: Netns, extra: string[] = []): Promise<string | undefined> {
    const r = await ns.dockward(['apply', ...extra, '--inventory', inventory]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    return /^ipv4 \((nft|legacy)\)/m.exec(String(r.stdout))?.[1];
  }

  it('without --backend, the one the iptables command points to; once the other holds DOCKWARD chains, that one', async () => {
    await withNetns(async (ns) => {
      expect(await backendUsed(ns), 'control: iptables points to nft on these machines').toBe('nft');
      expect((await ns.dockward(['flush', '--backend', 'nft'])).exitCode).toBe(0);
      expect(await backendUsed(ns, ['--backend', 'legacy'])).toBe('legacy');
      expect(await backendUsed(ns)).toBe('legacy');
      expect(await saved(ns, 'nft')).not.toContain('DOCKWARD');
      expect(await saved(ns, 'legacy')).toContain('DOCKWARD-FORWARD');
    });
  });
});

describe('a broken policy at start', () => {
  const BAD = 'version: 1\nrules:\n  - { ports: [70000], from: [zone:nowhere] }\n';

  it('apply and run exit 2 naming the problems, and iptables-save stays as it was, rules in force or none', async () => {
    await withNetns(async (ns) => {
      const bad = await policyFile('bad.yaml', BAD);
      const stateDir = tempDir('dw-state-');
      const run = ['run', '--policy', bad, '--state-dir', stateDir, '--docker-host', 'unix:///nonexistent/docker.sock'];
      const empty = await saved(ns, 'nft');
      const started = await ns.dockward(run);
      expect(started.exitCode).toBe(2);
      expect(await saved(ns, 'nft'), 'nothing loaded yet, nothing loaded now').toBe(empty);
      expect(await saved(ns, 'nft')).not.toContain('DOCKWARD');

      const good = await policyFile('good.yaml', policyFrom(['198.51.100.0/24']));
      expect((await ns.dockward(['apply', '--inventory', inventory, '--policy', good])).exitCode, 'control: a good policy loads').toBe(0);
      const inForce = await saved(ns, 'nft');
      const inForce6 = await saved(ns, 'nft', 'ipv6');
      const applied = await ns.dockward(['apply', '--inventory', inventory, '--policy', bad]);
      expect(applied.exitCode).toBe(2);
      expect(String(applied.stderr).split('\n')).toEqual([
        `${bad}: rules[0].ports[0]: port 70000 out of range 1-65535`,
        `${bad}: rules[0].from[0]: unknown zone "nowhere" (no zones are defined)`,
      ]);
      const rerun = await ns.dockward(run);
      expect(rerun.exitCode).toBe(2);
      expect(rerun.stderr).toContain(`${bad}: rules[0].ports[0]: port 70000 out of range 1-65535`);
      expect(await saved(ns, 'nft')).toBe(inForce);
      expect(await saved(ns, 'nft', 'ipv6')).toBe(inForce6);
    });
  });
});

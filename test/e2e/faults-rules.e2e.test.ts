/**
 * dockward run against what other programs do to the rules: flushes, an iptables service
 * restart, `nft flush ruleset`, one table wiped at a time, its own SIGKILL, a broken
 * policy edit, a failing iptables-restore, and a policy that revokes an open flow.
 * During every wipe a loop knocks from a refused source every few ms and must never get
 * an answer from a container, while its positive control from an allowed source gets
 * answers before and after; repair times are convergence bounds, printed for the notes.
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, liveRules, scratch, startDockward, tableLines, type RunningDockward } from './dockward.js';
import { guard, repairTimes, session, TCP_ECHO, type Guard } from './traffic.js';

const EXT = LAB_ADDR.external.host;
const ALLOWED = LAB_ADDR.external.client;
const REFUSED = LAB_ADDR.external.client2;
const EXT6 = LAB_ADDR.external.host6;
const ALLOWED6 = LAB_ADDR.external.client6;
/** A second IPv6 address in the external namespace, added by this test: a refused IPv6 source. */
const REFUSED6 = '2001:db8:1::3';
const POLICY = `version: 1
zones:
  internal: { interfaces: [${LAB_ADDR.internal.hostIf}] }
defaults: { published: deny }
rules:
  - { name: trusted, from: [${ALLOWED}/32, zone:internal, "${ALLOWED6}/128"] }
`;
const FAMILIES = {
  ipv4: { host: EXT, allowed: ALLOWED, refused: REFUSED, url: `http://${EXT}:8080/`, iptables: 'iptables' },
  ipv6: { host: EXT6, allowed: ALLOWED6, refused: REFUSED6, url: `http://[${EXT6}]:8080/`, iptables: 'ip6tables' },
} as const;
type Family = keyof typeof FAMILIES;

let lab: Lab;
const files = scratch();
let policyFile: string;
let running: RunningDockward | undefined;
let guarded: Guard | undefined;
const repairs = repairTimes();

const allowedWorks = async (family: Family = 'ipv4') => {
  const f = FAMILIES[family];
  return (await lab.http('external', f.url, { source: f.allowed, timeoutMs: 300 })) === 'web';
};
const save = () => liveRules(lab);
/** dockward's lines (hash-tagged) of one table, as the family's iptables-save shows them. */
const ownLines = (text: string, table: string) => tableLines(text, table).filter((l) => l.includes('DW:'));
const saveOf = async (family: Family) => (await lab.inHost(`${FAMILIES[family].iptables}-save`, [])).stdout;
/** The table holds dockward's rules exactly as before the fault. */
const tableBack = (family: Family, table: string, before: string[]) => async () => {
  const now = ownLines(await saveOf(family), table);
  return now.length === before.length && now.every((l, i) => l === before[i]);
};
const inSync = async () => (await dockward(lab, ['status', '--state-dir', files.dir])).exitCode === 0;

async function start(args: string[] = [], env: Record<string, string> = {}) {
  running = startDockward(lab, ['--policy', policyFile, '--state-dir', files.dir, ...args], env);
  await eventually(inSync, 10_000);
  return running;
}

/**
 * Run a fault with the knockers of `family` going (refused source, and an allowed one as
 * positive control); returns ms until `repaired` holds again.
 */
async function underFault(name: string, fault: () => Promise<unknown>, repaired: () => Promise<boolean>, family: Family = 'ipv4') {
  const f = FAMILIES[family];
  guarded = await guard(lab, lab.externalNs, f.host, 8080, f);
  const started = Date.now();
  await fault();
  await eventually(repaired, 2000, 25);
  const ms = Date.now() - started;
  repairs.add(name, ms);
  await guarded.finish();
  guarded = undefined;
  return ms;
}

/** Runs the fault and reads the table back in the same breath, before any repair can land. */
async function wipeAndRead(family: Family, command: string, table: string): Promise<string[]> {
  const ipt = FAMILIES[family].iptables;
  const out = await lab.inHost('sh', ['-c', `${command} && ${ipt}-save -t ${table}`]);
  return ownLines(out.stdout, table);
}

beforeAll(async () => {
  lab = await startLab({ dockerdArgs: ['--ipv6', '--fixed-cidr-v6', 'fd00:fa17::/64'] });
  await lab.exec('external', 'ip', ['-6', 'addr', 'add', `${REFUSED6}/64`, 'dev', LAB_ADDR.clientIf, 'nodad']);
  await lab.docker(['network', 'create', 'appnet']);
  await Promise.all([
    lab.runHttp('web', { publish: ['8080:80'] }),
    lab.runPlain('echo', { network: 'appnet', publish: ['7000:7000'], cmd: ['/usr/bin/python3', '-u', '-c', TCP_ECHO] }),
  ]);
  policyFile = files.policy('policy.yaml', POLICY);
});

afterEach(async () => {
  await guarded?.stop();
  guarded = undefined;
  if (running) expect(await running.stop()).toBe(0);
  running = undefined;
  writeFileSync(policyFile, POLICY);
});

afterAll(async () => {
  repairs.print();
  await lab?.stop();
  files.cleanup();
});

describe('dockward run repairs what others do to its rules', () => {
  it('1. iptables -F; iptables -t nat -F: allowed traffic works again within 2 s, the refused source never gets in', async () => {
    await start();
    for (let i = 0; i < 5; i++) {
      await underFault('iptables -F; iptables -t nat -F', async () => {
        await lab.inHost('iptables', ['-F']);
        await lab.inHost('iptables', ['-t', 'nat', '-F']);
      }, allowedWorks);
    }
    for (let i = 0; i < 3; i++) {
      await underFault('ip6tables -F; ip6tables -t nat -F', async () => {
        await lab.inHost('ip6tables', ['-F']);
        await lab.inHost('ip6tables', ['-t', 'nat', '-F']);
      }, () => allowedWorks('ipv6'), 'ipv6');
    }
    for (const family of ['ipv4', 'ipv6']) {
      await running!.waitForLog((r) => r.msg.startsWith('rules wiped') && JSON.stringify(r).includes(`${family}/nat`));
    }
    // Repaired without a save first (the hooks put back by what a listing of the built-in chains showed): each hook once, first.
    for (const save of [(await lab.inHost('iptables-save', [])).stdout, (await lab.inHost('ip6tables-save', [])).stdout]) {
      expect(tableLines(save, 'filter').filter((l) => l.startsWith('-A FORWARD ')).slice(0, 2).map((l) => l.split(' -j ')[1]))
        .toEqual(['DOCKER-USER', 'DOCKWARD-FORWARD']);
      expect(tableLines(save, 'filter').filter((l) => l.includes('-j DOCKWARD-FORWARD') && l.startsWith('-A FORWARD '))).toHaveLength(1);
      expect(tableLines(save, 'nat').filter((l) => l.startsWith('-A PREROUTING ') && l.includes('-j DOCKWARD-PREROUTING'))).toHaveLength(1);
    }
    // The read-back after the repair finds nothing to change.
    await eventually(inSync, 5_000);
  });

  it('2. an iptables service restart (restore without --noflush) is repaired within 2 s and its own rules are kept', async () => {
    await start();
    const file = join(files.dir, 'rules.v4');
    writeFileSync(file, '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n');
    const before = ownLines(await saveOf('ipv4'), 'filter');
    for (let i = 0; i < 5; i++) {
      await underFault('iptables service restart', async () => {
        expect(await wipeAndRead('ipv4', `iptables-restore < ${file}`, 'filter'), 'the restore left rules of dockward in filter').toEqual([]);
      }, tableBack('ipv4', 'filter', before));
    }
    expect(await allowedWorks()).toBe(true);
    expect(await inSync()).toBe(true);
    expect(await save()).toContain('-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT');
  });

  it('3. nft flush ruleset is repaired within 2 s', async () => {
    await start();
    for (let i = 0; i < 5; i++) {
      await underFault('nft flush ruleset', () => lab.inHost('nft', ['flush', 'ruleset']), async () => await allowedWorks() && await allowedWorks('ipv6'));
    }
  });

  it('11. each table flushed alone keeps the refused source out, and is repaired within 2 s', async () => {
    await start();
    for (const family of ['ipv4', 'ipv6'] as const) {
      for (const table of ['raw', 'mangle', 'filter', 'nat']) {
        const before = ownLines(await saveOf(family), table);
        expect(before.length, `dockward has rules in ${family} ${table}`).toBeGreaterThan(0);
        await underFault(`${table} flushed alone (${family})`, async () => {
          expect(await wipeAndRead(family, `${FAMILIES[family].iptables} -t ${table} -F`, table)).toEqual([]);
        }, async () => await tableBack(family, table, before)() && await allowedWorks(family), family);
      }
    }
    expect(await inSync()).toBe(true);
    // Each wipe is seen, by its canary or (on nft) by the monitor's read-back, never repaired blind.
    const seen = running!.logs().filter((r) => r.msg.startsWith('rules wiped') || r.msg.startsWith('live rules differ'));
    expect(seen.length).toBeGreaterThanOrEqual(8);
  });

  it('5. SIGKILL and a restart leave the same rules: no duplicate hooks, no stale chains', async () => {
    await start();
    const before = await save();
    expect(await running!.stop('SIGKILL')).toBe('SIGKILL');
    expect(await save()).toBe(before);
    running = undefined;
    await start();
    expect(await save()).toBe(before);
    expect(tableLines(before, 'filter').filter((l) => l.includes('-j DOCKWARD-FORWARD'))).toHaveLength(1);
  });

  it('6. a broken policy keeps the last good rules, logs the place of the error and fails status; the fixed file is applied', async () => {
    const d = await start();
    const before = await save();
    process.kill(d.pid, 'SIGHUP');
    await d.waitForLog((r) => r.msg === 'policy loaded' && r['trigger'] === 'SIGHUP');
    writeFileSync(policyFile, POLICY.replace(`${ALLOWED}/32`, 'zone:nowhere'));
    process.kill(d.pid, 'SIGHUP');
    // The write alone also wakes the file watch: the SIGHUP reload is told apart by its trigger.
    await d.waitForLog((r) => r.msg.startsWith('policy rejected') && r['trigger'] === 'SIGHUP' && JSON.stringify(r).includes('rules[0].from[0]: unknown zone'));
    const status = await dockward(lab, ['status', '--state-dir', files.dir]);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain('rules[0].from[0]: unknown zone "nowhere"');
    expect(await save()).toBe(before);
    expect(await allowedWorks()).toBe(true);
    // Fixed as editors save: a new file renamed over the old one, no signal.
    const temp = join(files.dir, '.policy.yaml.tmp');
    writeFileSync(temp, POLICY.replace(`${ALLOWED}/32`, `${REFUSED}/32`));
    renameSync(temp, policyFile);
    await eventually(async () => (await lab.http('external', `http://${EXT}:8080/`, { source: REFUSED, timeoutMs: 300 })) === 'web', 3000);
    expect(await allowedWorks()).toBe(false);
    await eventually(inSync, 3000);
    expect(d.logs().some((r) => r.msg === 'policy loaded' && r['trigger'] === 'file change')).toBe(true);
  });

  it('7. a failing iptables-restore leaves the previous rules, is retried, and recovers once it works', async () => {
    const bin = join(files.dir, 'bin');
    const flag = join(files.dir, 'fail');
    await lab.inHost('mkdir', ['-p', bin]);
    // Fails by the flag as it is when the input comes: the daemon starts its restores ahead of their input (dataplane/program.ts).
    writeFileSync(join(bin, 'iptables-nft-restore'), `#!/bin/sh\ninput=$(cat)\nif [ -e ${flag} ]; then echo "iptables-restore: line 2 failed" >&2; exit 1; fi\nprintf '%s\\n' "$input" | exec /usr/sbin/iptables-nft-restore "$@"\n`);
    chmodSync(join(bin, 'iptables-nft-restore'), 0o755);
    const d = await start([], { PATH: `${bin}:${process.env['PATH']}` });
    writeFileSync(flag, '');
    const before = await save();
    await lab.runHttp('late', { network: 'appnet', publish: ['9090:80'] });
    await eventually(async () => d.logs().filter((r) => r.msg.startsWith('apply failed')).length >= 2, 10_000);
    expect(await save()).toBe(before);
    expect(await allowedWorks()).toBe(true);
    expect((await dockward(lab, ['status', '--state-dir', files.dir])).stdout).toMatch(/last error: .*apply failed/);
    rmSync(flag);
    await eventually(async () => (await lab.http('external', `http://${EXT}:9090/`, { source: ALLOWED, timeoutMs: 300 })) === 'late', 35_000);
    await lab.docker(['rm', '-f', 'late']);
  });
});

describe('revoked access takes effect for open flows', () => {
  const SECOND = REFUSED;
  /** Both sources may reach the echo port; the allowed web port as before. */
  const BOTH = POLICY.replace('rules:\n', `rules:\n  - { name: second, ports: [7000], from: [${SECOND}/32] }\n`);

  /**
   * The open flows from `source` to the echo port: conntrack id and age in seconds. A deleted
   * entry that TCP picked up again mid-stream is young again (its id may even be reused).
   */
  async function flows(source: string): Promise<{ id: string; age: number }[]> {
    const args = ['-L', '-p', 'tcp', '--orig-src', source, '--orig-port-dst', '7000', '--state', 'ESTABLISHED', '-o', 'ktimestamp,id'];
    return (await lab.inHost('conntrack', args)).stdout.split('\n').flatMap((l) => {
      const id = / id=(\d+)/.exec(l)?.[1];
      const age = / delta-time=(\d+)/.exec(l)?.[1];
      return id && age ? [{ id, age: Number(age) }] : [];
    });
  }

  /** Open sessions from ALLOWED and SECOND; `cut` refuses ALLOWED; returns ms until its flow stopped. */
  async function revoked(cut: () => unknown, outcome: 'RESET' | 'SILENT'): Promise<number> {
    // Entries record their creation time from now on (this sysctl is the lab host namespace's own).
    await lab.inHost('sysctl', ['-qw', 'net.netfilter.nf_conntrack_timestamp=1']);
    const s = session(lab, lab.externalNs, EXT, 7000, ALLOWED);
    const kept = session(lab, lab.externalNs, EXT, 7000, SECOND);
    const replies = (x: typeof s) => x.events().filter((e) => e === 'REPLY').length;
    try {
      await eventually(async () => replies(s) >= 3 && replies(kept) >= 3, 5000);
      // Old enough that a re-created entry could not pass for it.
      await eventually(async () => ((await flows(SECOND))[0]?.age ?? 0) >= 6, 10_000, 250);
      const keptEntry = await flows(SECOND);
      expect(keptEntry).toHaveLength(1);
      const started = Date.now();
      await cut();
      await eventually(async () => s.events().at(-1) === outcome, 2000, 25);
      const ms = Date.now() - started;
      const cutReplies = replies(s);
      const keptReplies = replies(kept);
      await new Promise((r) => setTimeout(r, 1000));
      expect(replies(s), 'the refused flow got another answer').toBe(cutReplies);
      // Targeted deletion: a flow the policy still allows is not touched (conntrack -F would break it).
      expect(replies(kept) - keptReplies, 'the allowed flow kept its answers').toBeGreaterThanOrEqual(5);
      expect(kept.events().slice(-5)).toEqual(['REPLY', 'REPLY', 'REPLY', 'REPLY', 'REPLY']);
      // TCP picks a flow up again mid-stream, so the answers alone cannot tell: its conntrack entry is the same one.
      const after = await flows(SECOND);
      expect(after.map((f) => f.id), 'the allowed flow\'s conntrack entry was deleted').toEqual(keptEntry.map((f) => f.id));
      expect(after[0]!.age, 'the allowed flow\'s conntrack entry was deleted and picked up again').toBeGreaterThanOrEqual(keptEntry[0]!.age + 1);
      return ms;
    } finally {
      await s.stop();
      await kept.stop();
    }
  }

  for (const [action, outcome] of [['reject', 'RESET'], ['deny', 'SILENT']] as const) {
    it(`9. an open connection gets no further answer within 2 s of the policy refusing it (${action} → ${outcome}); another allowed one keeps working`, async () => {
      writeFileSync(policyFile, BOTH);
      await start();
      const cut = BOTH.replace('rules:\n', `rules:\n  - { ports: [7000], from: [${ALLOWED}/32], action: ${action} }\n`);
      const ms = await revoked(() => writeFileSync(policyFile, cut), outcome);
      console.log(`open flow cut (${action}) ${ms} ms after the policy file changed`);
      expect(await allowedWorks()).toBe(true);
    });
  }

  it('9. an open connection is cut when a container change ends its access: the container renamed out of the rule that selected it', async () => {
    writeFileSync(policyFile, `version: 1
defaults: { published: deny }
rules:
  - { name: by-name, containers: echo, ports: [7000], from: [${ALLOWED}/32] }
  - { name: second, ports: [7000], from: [${SECOND}/32] }
`);
    await start();
    try {
      const ms = await revoked(() => lab.docker(['rename', 'echo', 'echo-renamed']), 'SILENT');
      console.log(`open flow cut ${ms} ms after the container was renamed`);
    } finally {
      await lab.docker(['rename', 'echo-renamed', 'echo']).catch(() => undefined);
    }
  });
});

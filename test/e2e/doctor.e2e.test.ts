/**
 * `dockward doctor` against real faults: each condition provoked alone in the lab's host
 * namespace (never the machine's own) turns exactly its check to FAIL and the exit code to
 * 1, and undoing it brings back a healthy report. Docker's own rules and docker-proxy
 * need a dockerd started that way, so each gets a lab of its own.
 */
import { chmodSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

let lab: Lab;
const files = scratch();

interface DoctorRun {
  readonly exitCode: number;
  readonly stdout: string;
  /** The line of one check: "FAIL hooks: ...". */
  line(id: string): string | undefined;
  /** Ids of the checks that failed. */
  readonly failed: string[];
}

async function doctor(args: readonly string[] = [], on: Lab = lab): Promise<DoctorRun> {
  const r = await dockward(on, ['doctor', ...args]);
  expect(r.stderr).toBe('');
  const lines = r.stdout.split('\n');
  return {
    exitCode: r.exitCode,
    stdout: r.stdout,
    line: (id) => lines.find((l) => l.slice(5).startsWith(`${id}:`)),
    failed: lines.flatMap((l) => /^FAIL ([\w-]+):/.exec(l)?.[1] ?? []),
  };
}

/** Runs a command in the lab's host namespace; throws when it fails. */
async function host(cmd: string, ...args: string[]): Promise<void> {
  await lab.inHost(cmd, args);
}

/** Provoke a condition, run doctor, always undo it; then doctor must be healthy again. */
async function provoked(make: () => Promise<void>, undo: () => Promise<void>, args: readonly string[] = []): Promise<DoctorRun> {
  await make();
  try {
    return await doctor(args);
  } finally {
    await undo();
  }
}

beforeAll(async () => {
  lab = await startLab();
  await lab.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', 'quiet']);
  await Promise.all([
    lab.runHttp('web', { publish: ['8080:80'] }),
    lab.runHttp('qa', { network: 'quiet' }),
    lab.runHttp('qb', { network: 'quiet' }),
  ]);
  const applied = await dockward(lab, ['apply']);
  expect(applied.exitCode, applied.stderr).toBe(0);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('dockward doctor in the lab', () => {
  it('a healthy lab after `dockward apply`: every check ok, exit 0 (text and --json)', async () => {
    const [text, json] = await Promise.all([doctor(), dockward(lab, ['doctor', '--json'])]);
    console.log(`doctor on a healthy lab:\n${text.stdout}`);
    expect(text.failed).toEqual([]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).not.toMatch(/^warn /m);
    expect(text.line('bridge-netfilter')).toMatch(/^ok {3}.*1 network\(s\) with ICC off/);
    expect(JSON.parse(json.stdout)).toMatchObject({ healthy: true });
    expect(json.exitCode).toBe(0);
  });

  it('1. a DOCKER chain in the live rules → FAIL docker-rules', async () => {
    const r = await provoked(() => host('iptables', '-N', 'DOCKER'), () => host('iptables', '-X', 'DOCKER'));
    expect(r.failed).toEqual(['docker-rules']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/- ipv4 filter\/DOCKER\n/);
    // This dockerd runs with --iptables=false: the chain is reported as a leftover.
    expect(r.line('docker-rules')).toMatch(/leftovers/);
  });

  it('3. a DOCKWARD chain loaded with the other backend (iptables-legacy) → FAIL other-backend', async () => {
    const make = () => host('iptables-legacy', '-N', 'DOCKWARD-X');
    const undo = () => host('iptables-legacy', '-X', 'DOCKWARD-X');
    const pinned = await provoked(make, undo, ['--backend', 'nft']);
    expect(pinned.failed).toEqual(['other-backend']);
    expect(pinned.exitCode).toBe(1);
    expect(pinned.stdout).toMatch(/- ipv4 filter\/DOCKWARD-X\n/);
    // Detection now picks legacy (it holds DOCKWARD chains): the mismatch is still reported.
    const detected = await provoked(make, undo);
    expect(detected.failed).toContain('other-backend');
    expect(detected.exitCode).toBe(1);
  });

  it('4. net.ipv4.ip_forward=0 in the lab host namespace → FAIL ip-forward', async () => {
    const r = await provoked(() => host('sysctl', '-qw', 'net.ipv4.ip_forward=0'), () => host('sysctl', '-qw', 'net.ipv4.ip_forward=1'));
    expect(r.failed).toEqual(['ip-forward']);
    expect(r.exitCode).toBe(1);
    expect(r.line('ip-forward')).toMatch(/is 0: containers cannot reach out/);
  });

  it('5. bridge-nf-call-iptables=0 with an ICC-off network → FAIL saying ICC off is not enforced, and it really is not', async () => {
    const qb = await lab.containerIp('qb');
    const qaToQb = () => lab.http({ container: 'qa' }, `http://${qb}:80/`);
    const [before, webFromQa] = await Promise.all([qaToQb(), lab.http({ container: 'qa' }, `http://${LAB_ADDR.external.host}:8080/`)]);
    expect(webFromQa, 'positive control: qa reaches a published port').toBe('web');
    expect(before, 'ICC off holds while bridge netfilter is on').toBeNull();
    let during: string | null = null;
    const r = await provoked(async () => {
      await host('sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0');
      during = await qaToQb();
    }, () => host('sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1'));
    expect(r.failed).toEqual(['bridge-netfilter']);
    expect(r.exitCode).toBe(1);
    expect(r.line('bridge-netfilter')).toMatch(/ICC off is NOT enforced on quiet/);
    expect(during, 'what doctor says: with bridge netfilter off, qa reaches qb across ICC off').toBe('qb');
    expect(await qaToQb()).toBeNull();
  });

  it('6. a foreign rule above dockward\'s FORWARD hook → FAIL hooks', async () => {
    const r = await provoked(() => host('iptables', '-I', 'FORWARD', '1', '-j', 'ACCEPT'), () => host('iptables', '-D', 'FORWARD', '-j', 'ACCEPT'));
    expect(r.failed).toEqual(['hooks']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/- ipv4 filter\/FORWARD rule 1, above dockward's hook: -j ACCEPT/);
  });

  it('6. FORWARD policy DROP is reported as fine', async () => {
    const r = await provoked(() => host('iptables', '-P', 'FORWARD', 'DROP'), () => host('iptables', '-P', 'FORWARD', 'ACCEPT'));
    expect(r.failed).toEqual([]);
    expect(r.line('hooks')).toMatch(/^ok {3}.*FORWARD policy DROP \(fine/);
  });

  it('7. a policy file with mode 0666 → FAIL policy-file; 0644 → ok', async () => {
    const file = files.policy('policy.yaml', 'version: 1\n');
    chmodSync(file, 0o644);
    const good = await doctor(['--policy', file]);
    expect(good.failed).toEqual([]);
    chmodSync(file, 0o666);
    const bad = await doctor(['--policy', file]);
    expect(bad.failed).toEqual(['policy-file']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toMatch(/is writable by others \(mode 0666\)/);
  });

  it('after all that, the lab is healthy again', async () => {
    const r = await doctor();
    expect(r.failed).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});

describe('dockward doctor with a misconfigured dockerd', () => {
  it('1. dockerd --iptables=true (the real thing) → FAIL docker-rules; 2. --userland-proxy=true with a published port → FAIL docker-proxy', async () => {
    // Started side by side; allSettled so that one failing to start never leaves the other running.
    const started = await Promise.allSettled([
      startLab({ dockerdArgs: ['--iptables=true'], sweep: false }),
      startLab({ dockerdArgs: ['--userland-proxy=true'], sweep: false }),
    ]);
    const labs = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      const [withRules, withProxy] = started.map((s) => {
        if (s.status === 'rejected') throw s.reason;
        return s.value;
      }) as [Lab, Lab];
      await withProxy.runHttp('web', { publish: ['8080:80'] });
      const [rules, proxy] = await Promise.all([doctor([], withRules), doctor([], withProxy)]);
      console.log(`doctor on a lab with Docker's own rules on:\n${rules.stdout}`);
      expect(rules.exitCode).toBe(1);
      expect(rules.line('docker-rules')).toMatch(/^FAIL docker-rules: Docker writes its own rules/);
      expect(rules.stdout).toMatch(/- ipv4 filter\/DOCKER-ISOLATION-STAGE-1\n/);
      expect(proxy.exitCode).toBe(1);
      expect(proxy.line('docker-proxy')).toMatch(/^FAIL docker-proxy: docker-proxy listens/);
      expect(proxy.stdout).toMatch(/- pid \d+: 0\.0\.0\.0:8080\/tcp\n/);
      // Not applied in these labs: the hooks fail too, and nothing else.
      expect(rules.failed.sort()).toEqual(['docker-rules', 'hooks']);
      expect(proxy.failed.sort()).toEqual(['docker-proxy', 'hooks']);
    } finally {
      await Promise.all(labs.map((l) => l.stop()));
    }
  });
});

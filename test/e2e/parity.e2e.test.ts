/**
 * Proof of parity: one scenario (networks of each kind, each kind of publishing, IPv4 and
 * IPv6, TCP and UDP) run in two labs at once — dockerd 20.10 with its own rules, as on a
 * typical host, and dockerd with its rules off plus `dockward run` with the built-in
 * default policy. The reachability matrices (source × destination × protocol → who
 * answered) must be equal, except for the differences the README lists as deliberate,
 * each of which is asserted on its own.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, scratch, startDockward } from './dockward.js';
import { DELIBERATE, describeDifference, diff, type Difference } from './parity/diff.js';
import { layout, measure, merge, type Matrix } from './parity/matrix.js';
import { printMatrices } from './parity/print.js';
import { DAEMON_IPV6, EGRESS, LOOPBACK_COUNTER, neighbourToLoopback, setUp, type Placed } from './parity/scenario.js';

type Side = 'docker' | 'dockward';

/**
 * dockerd 20.10 writes ip6tables rules only with --experimental --ip6tables; the lab's
 * own --iptables=false --ip6tables=false come first, and the last flag wins.
 */
const DOCKER_OWN_RULES = ['--iptables=true', '--experimental', '--ip6tables', ...DAEMON_IPV6];

const PROBES = layout();
const cleanups: (() => Promise<unknown>)[] = [];
const labs = {} as Record<Side, { lab: Lab; placed: Placed }>;
const matrices = {} as Record<Side, Matrix>;
const loopbackPackets = {} as Record<Side, number>;
let diffs: Difference[] = [];

async function bringUp(side: Side): Promise<void> {
  const lab = await startLab(side === 'docker'
    // ip_forward 0 before dockerd starts, as on a typical host: Docker turns it on and sets FORWARD to DROP.
    ? { ipForward: false, dockerdArgs: DOCKER_OWN_RULES }
    : { dockerdArgs: DAEMON_IPV6 });
  cleanups.push(() => lab.stop());
  const placed = await setUp(lab);
  await lab.serveHttpInClient('external', EGRESS.port); // stopped with the lab
  await neighbourToLoopback(lab);
  await LOOPBACK_COUNTER.install(lab);
  if (side === 'dockward') {
    const files = scratch();
    cleanups.push(async () => files.cleanup());
    // No --policy: the built-in default.
    const daemon = startDockward(lab, ['--state-dir', files.dir]);
    cleanups.push(() => daemon.stop());
    await eventually(async () => (await dockward(lab, ['status', '--state-dir', files.dir])).exitCode === 0, 30_000)
      .catch(() => { throw new Error(`dockward status never exited 0; logs:\n${JSON.stringify(daemon.logs().slice(-20), null, 1)}`); });
  }
  labs[side] = { lab, placed };
}

beforeAll(async () => {
  expect(existsSync('/etc/dockward/policy.yaml'), 'the built-in default applies only without a policy file').toBe(false);
  const t0 = Date.now();
  // allSettled: a failing side must not leave the other one still being built when afterAll runs.
  const up = await Promise.allSettled([bringUp('docker'), bringUp('dockward')]);
  for (const r of up) if (r.status === 'rejected') throw r.reason;
  const t1 = Date.now();

  const sides: Side[] = ['docker', 'dockward'];
  const first = await Promise.all(sides.map((s) => measure(labs[s].lab, labs[s].placed, PROBES)));
  // Probe the cells that differ once more, less crowded: a silent cell may have been a slow start.
  const again = PROBES.filter((p) => first[0]!.get(p.key) !== first[1]!.get(p.key));
  const second = await Promise.all(sides.map((s) => measure(labs[s].lab, labs[s].placed, again, 16)));
  sides.forEach((s, i) => {
    matrices[s] = merge(first[i]!, second[i]!);
  });
  for (const s of sides) loopbackPackets[s] = await LOOPBACK_COUNTER.packets(labs[s].lab);
  diffs = diff(PROBES, matrices.docker, matrices.dockward);

  console.log(printMatrices(PROBES, matrices.docker, matrices.dockward, diffs));
  console.log(`labs up in ${t1 - t0} ms; ${PROBES.length} cells per matrix measured in ${Date.now() - t1} ms (${again.length} probed twice)`);
}, 600_000);

afterAll(async () => {
  // Reverse order: each dockward stops before its lab goes.
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error(e));
}, 120_000);

const cell = (side: Side, key: string): string | null => {
  if (!PROBES.some((p) => p.key === key)) throw new Error(`no such cell: ${key}`);
  return matrices[side].get(key) ?? null;
};

describe('parity with Docker 20.10\'s own rules', () => {
  it('the Docker lab runs Docker\'s own rules as on a typical host: FORWARD policy DROP in both families', async () => {
    const { lab } = labs.docker;
    expect(await lab.docker(['version', '-f', '{{.Server.Version}} {{.Server.Experimental}}'])).toMatch(/^20\.10\.\S+ true$/);
    expect((await lab.inHost('iptables', ['-S', 'FORWARD'])).stdout).toMatch(/^-P FORWARD DROP$/m);
    expect((await lab.inHost('ip6tables', ['-S', 'FORWARD'])).stdout).toMatch(/^-P FORWARD DROP$/m);
    expect((await lab.inHost('ip6tables-save', [])).stdout).toContain('-j DNAT --to-destination [fd00:');
  });

  it('in both labs Docker lists a dual-stack publication twice, on 0.0.0.0 and on ::', async () => {
    for (const side of ['docker', 'dockward'] as const) {
      const ports = JSON.parse(await labs[side].lab.docker(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'dual'])) as
        Record<string, { HostIp: string }[]>;
      expect(ports['80/tcp']?.map((b) => b.HostIp).sort(), side).toEqual(['0.0.0.0', '::']);
    }
  });

  it('positive controls: both labs answer where every Docker version does', () => {
    const both: Record<string, string> = {
      'external | web 8080/tcp @198.51.100.1': 'web',
      'internal | echo 5353/udp @203.0.113.1': 'echo',
      'host | local 8081/tcp @127.0.0.1': 'local',
      'quiet | web 80/tcp direct v4': 'web',
      'intcli | intweb 80/tcp direct v4': 'intweb',
      'host | dual 80/tcp direct v6': 'dual', // IPv6 to containers works in the lab at all
    };
    for (const [key, who] of Object.entries(both)) {
      expect({ key, docker: cell('docker', key), dockward: cell('dockward', key) }).toEqual({ key, docker: who, dockward: who });
    }
    // IPv6 through a published port works with Docker's rules, so the IPv6 cells are not vacuous.
    expect(cell('docker', 'external | web 8080/tcp @[2001:db8:1::1]')).toBe('web');
  });

  it('the neighbour\'s packets for 127.0.0.1 do arrive at the host in both labs (so a refusal there is not vacuous)', () => {
    expect(loopbackPackets.docker).toBeGreaterThan(0);
    expect(loopbackPackets.dockward).toBeGreaterThan(0);
  });

  for (const rule of DELIBERATE) {
    it(`deliberate: ${rule.name} — docker ${rule.docker}, dockward ${rule.dockward}`, () => {
      const cls = PROBES.filter(rule.applies);
      const silentSide: Side = rule.docker === 'silent' ? 'docker' : 'dockward';
      // In the whole class the refusing side refuses...
      const answered = cls.filter((p) => cell(silentSide, p.key) !== null).map((p) => `${p.key}: ${silentSide} says ${cell(silentSide, p.key)}`);
      expect(answered, `${silentSide} must refuse every cell of this class`).toEqual([]);
      // ...and the difference is really there: the other side answers somewhere in it.
      expect(diffs.filter((d) => d.deliberate === rule).length).toBeGreaterThan(0);
    });
  }

  it('no other difference', () => {
    expect(diffs.filter((d) => !d.deliberate).map(describeDifference)).toEqual([]);
  });
});

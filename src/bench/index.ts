/**
 * `npm run bench`: prints dockward's figures next to their floors and targets.
 * Each backend is measured in a child process inside its own network namespace.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { dockerOwnRules, withDockward } from './lab-race.js';
import { ms, percentile, ratio } from './stats.js';

const SIZES = (process.env['DOCKWARD_BENCH_SIZES'] ?? '100,1000,10000').split(',').filter(Boolean);
const RACE = Number(process.env['DOCKWARD_BENCH_RACE'] ?? '100');
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function row(cells: (string | number)[]): string {
  return cells.map((c, i) => String(c).padEnd(i === 0 ? 34 : 14)).join('');
}

async function compileFigures(): Promise<void> {
  console.log('\n1. compile + render (hashing included), fresh process per size; target at 10,000: ≤ 200 ms, RSS ≤ 200 MB');
  console.log(row(['containers', 'time', 'RSS peak', 'restore text']));
  for (const size of SIZES) {
    const { stdout } = await execa(process.execPath, [here('compile-size.js'), size]);
    const r = JSON.parse(stdout) as { ms: number; rssMB: number; bytes: number };
    console.log(row([size, ms(r.ms), `${r.rssMB.toFixed(0)} MB`, `${(r.bytes / 1e6).toFixed(1)} MB`]));
  }
}

interface BackendRow {
  backend: string; size: number; rules: number; floor: number; full: number; readback: number; repair: number;
  startP50: number; startP99: number; stopP50: number; stopP99: number; bytesP50: number; floorP50: number;
}

async function backendFigures(backend: string): Promise<void> {
  const { stdout } = await execa('unshare', ['-n', process.execPath, here('backend.js'), backend, ...SIZES], { timeout: 1_800_000 });
  const rows = stdout.trim().split('\n').map((l) => JSON.parse(l) as BackendRow);
  console.log(`\n${backend}: 2. full apply vs iptables-restore of the same text (target at 10,000: ≤ 1.2×); 4. read-back`);
  console.log(row(['containers (rules)', 'floor', 'full apply', 'ratio', 'read-back', 'flush repair']));
  for (const r of rows) console.log(row([`${r.size} (${r.rules})`, ms(r.floor), ms(r.full), ratio(r.full, r.floor), ms(r.readback), ms(r.repair)]));
  console.log(`${backend}: 3. incremental apply, event to restore return, 50 events (target at 1,000: p50 ≤ 1.5×, p99 ≤ 3× the one-container floor)`);
  console.log(row(['containers', 'floor p50', 'start p50/p99', 'stop p50/p99', 'p50 ratio', 'p99 ratio', 'restore input']));
  for (const r of rows) {
    const p50 = Math.max(r.startP50, r.stopP50);
    const p99 = Math.max(r.startP99, r.stopP99);
    console.log(row([r.size, ms(r.floorP50), `${ms(r.startP50)}/${ms(r.startP99)}`, `${ms(r.stopP50)}/${ms(r.stopP99)}`,
      ratio(p50, r.floorP50), ratio(p99, r.floorP50), `${r.bytesP50} B`]));
  }
  const big = rows.find((r) => r.size === 1000);
  if (big) console.log(`${backend}: flush repair at 1,000 containers: ${ms(big.repair)} + up to 250 ms canary detection (target ≤ 1 s)`);
}

async function raceFigures(): Promise<void> {
  if (RACE <= 0) return;
  console.log(`\n5. docker run → first answer through the published port, ${RACE} containers one after another (target: ≤ 1.1× Docker's own)`);
  const docker = await dockerOwnRules(RACE);
  const dockward = await withDockward(RACE);
  console.log(row(['', 'p50', 'p99']));
  console.log(row(["Docker's own rules", ms(percentile(docker, 50)), ms(percentile(docker, 99))]));
  console.log(row(['dockward run', ms(percentile(dockward, 50)), ms(percentile(dockward, 99))]));
  console.log(row(['ratio', ratio(percentile(dockward, 50), percentile(docker, 50)), ratio(percentile(dockward, 99), percentile(docker, 99))]));
}

console.log(`dockward benchmark — ${new Date().toISOString()}, ${(await execa('nproc')).stdout} cores, load ${(await execa('cat', ['/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ')}`);
if (SIZES.length > 0) {
  await compileFigures();
  for (const backend of ['nft', 'legacy']) await backendFigures(backend);
}
await raceFigures();

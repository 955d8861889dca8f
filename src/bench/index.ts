/**
 * `npm run bench`: prints dockward's figures next to their floors and targets, each
 * target with a met / NOT MET mark. Each backend and size is measured in a fresh child
 * process inside its own network namespace.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { dockerOwnRules, withDockward } from './lab-race.js';
import { median, ms, percentile, ratio } from './stats.js';

const SIZES = (process.env['DOCKWARD_BENCH_SIZES'] ?? '100,1000,10000').split(',').filter(Boolean);
const RACE = Number(process.env['DOCKWARD_BENCH_RACE'] ?? '100');
/** Fresh processes per compile figure: the median of these. */
const COMPILE_RUNS = 5;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Columns as wide as their widest cell, two spaces apart. */
function table(rows: readonly (readonly (string | number)[])[]): void {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, String(c).length); });
  for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i]! + 2)).join('').trimEnd());
}

function mark(ok: boolean): string {
  return ok ? 'met' : 'NOT MET';
}

interface CompileRun { ms: number; warmMs: number; cpuMs: number; rssMB: number; bytes: number }

async function compileRow(size: string, shape: 'full' | 'basic'): Promise<(string | number)[]> {
  const runs: CompileRun[] = [];
  for (let i = 0; i < COMPILE_RUNS; i++) {
    const { stdout } = await execa(process.execPath, [here('compile-size.js'), size, shape]);
    runs.push(JSON.parse(stdout) as CompileRun);
  }
  const wall = median(runs.map((r) => r.ms));
  const warm = median(runs.map((r) => r.warmMs));
  const rss = median(runs.map((r) => r.rssMB));
  const target = size === '10000' ? `${mark(wall <= 200)} / ${mark(warm <= 200)} / ${mark(rss <= 200)}` : '';
  return [`${size}${shape === 'basic' ? ' (IPv4, source rules only)' : ''}`, ms(wall), ms(median(runs.map((r) => r.cpuMs))), ms(warm),
    `${rss.toFixed(0)} MB`, `${(runs[0]!.bytes / 1e6).toFixed(1)} MB`, target];
}

async function compileFigures(): Promise<void> {
  console.log(`\n1. compile + render (hashing included), fresh process per run, median of ${COMPILE_RUNS}; then again in that process (warm, as a running`);
  console.log('   daemon resyncs, no cache); target at 10,000: ≤ 200 ms, RSS ≤ 200 MB');
  const rows: (string | number)[][] = [['containers', 'cold wall', 'cold CPU', 'warm wall', 'RSS peak', 'restore text', 'cold / warm / RSS target']];
  for (const size of SIZES) rows.push(await compileRow(size, 'full'));
  if (SIZES.includes('10000')) rows.push(await compileRow('10000', 'basic'));
  table(rows);
}

interface BackendRow {
  size: number; rules: number; floor: number; inForce: number; withVerify: number; readback: number;
  resync: number; rssMB: number; repair: number; repairVerified: number; firstStart: number; events: number; warmup: number;
  startP50: number; startP99: number; stopP50: number; stopP99: number; floorP50: number; floorP99: number; flushFloorP50: number; cleanupP50: number;
  startBytes: number; stopBytes: number; cleanupBytes: number; floorBytes: number;
}

async function backendRow(backend: string, size: string): Promise<BackendRow> {
  const { stdout } = await execa('unshare', ['-n', process.execPath, here('backend.js'), backend, size], { timeout: 1_800_000 });
  return JSON.parse(stdout) as BackendRow;
}

const bytes = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)} kB` : `${n} B`);

async function backendFigures(backend: string): Promise<void> {
  const rows: BackendRow[] = [];
  for (const size of SIZES) rows.push(await backendRow(backend, size));
  console.log(`\n${backend}: 2. full apply as the daemon applies (save, plan, restore: the rules are in force when the restore returns), then with the verify that follows it`);
  console.log('   (save, compare); vs iptables-restore of the same text rendered beforehand; alternated, median of 3 (target at 10,000: ≤ 1.2×, on the rules in force); 4. read-back');
  table([['containers (rules)', 'floor', 'in force', 'ratio', 'target', 'with verify', 'ratio', 'read-back'],
    ...rows.map((r) => [`${r.size} (${r.rules})`, ms(r.floor), ms(r.inForce), ratio(r.inForce, r.floor), r.size === 10000 ? mark(r.inForce <= 1.2 * r.floor) : '',
      ms(r.withVerify), ratio(r.withVerify, r.floor), ms(r.readback)])]);
  const counts = rows.map((r) => `${r.events} at ${r.size}`).join(', ');
  console.log(`${backend}: 3. incremental apply through the daemon's path (Reconciler + Scheduler, both families), event callback to the last restore returned, starts and stops (${counts}),`);
  console.log(`   after a warm-up of ${rows[0]?.warmup} pairs (its first start, the process's first hot apply, shown as "first start"); floor: one container's own chains restored alone, both families`);
  console.log('   (target at 1,000: p50 ≤ 1.5×, p99 ≤ 3× the floor\'s p50);');
  console.log('   stop floor (for reading the stop, no target): those chains flushed alone through iptables-restore (nft: a transaction per table)');
  table([['containers', 'floor p50/p99', 'start p50/p99', 'stop p50/p99', 'p50 ratio', 'p99 ratio', 'first start', 'stop floor p50', 'stop / its floor', 'restore input start/stop/floor', 'cleanup per 10 stops'],
    ...rows.map((r) => {
      const p50 = Math.max(r.startP50, r.stopP50);
      const p99 = Math.max(r.startP99, r.stopP99);
      const targets = r.size === 1000;
      return [r.size, `${ms(r.floorP50)}/${ms(r.floorP99)}`, `${ms(r.startP50)}/${ms(r.startP99)}`, `${ms(r.stopP50)}/${ms(r.stopP99)}`,
        `${ratio(p50, r.floorP50)}${targets ? ` ${mark(p50 <= 1.5 * r.floorP50)}` : ''}`, `${ratio(p99, r.floorP50)}${targets ? ` ${mark(p99 <= 3 * r.floorP50)}` : ''}`,
        ms(r.firstStart), ms(r.flushFloorP50), ratio(r.stopP50, r.flushFloorP50),
        `${bytes(r.startBytes)}/${bytes(r.stopBytes)}/${bytes(r.floorBytes)}`, `${ms(r.cleanupP50)} (${bytes(r.cleanupBytes)})`];
    })]);
  console.log(`${backend}: the daemon's path: full resync at start; flush repair from \`iptables -F\` + \`-t nat -F\` to the rules back in the kernel (canaries every 250 ms`);
  console.log('   + nft monitor + urgent reconcile; target at 1,000: ≤ 1 s), and that plus a read-back of them; RSS after the resync and the events');
  table([['containers', 'full resync', 'flush repair', 'target', 'verified', 'RSS'],
    ...rows.map((r) => [r.size, ms(r.resync), ms(r.repair), r.size === 1000 ? mark(r.repair <= 1000) : '', ms(r.repairVerified), `${r.rssMB.toFixed(0)} MB`])]);
}

async function raceFigures(): Promise<void> {
  if (RACE <= 0) return;
  console.log(`\n5. docker run → first answer through the published port, ${RACE} containers one after another, after a warm-up, each side in one lab; the two alternate in halves (target: ≤ 1.1× Docker's own)`);
  // Both labs stay up throughout; the halves alternate which goes first, so neither always meets a warmer or a busier machine.
  const half = Math.ceil(RACE / 2);
  const docker: number[] = [];
  const dockward: number[] = [];
  const dockerSide = await dockerOwnRules();
  try {
    const dockwardSide = await withDockward();
    try {
      docker.push(...await dockerSide.race(half));
      dockward.push(...await dockwardSide.race(half));
      dockward.push(...await dockwardSide.race(RACE - half));
      docker.push(...await dockerSide.race(RACE - half));
    } finally {
      await dockwardSide.stop();
    }
  } finally {
    await dockerSide.stop();
  }
  const p50 = ratio(percentile(dockward, 50), percentile(docker, 50));
  const p99 = ratio(percentile(dockward, 99), percentile(docker, 99));
  table([['', 'p50', 'p99'],
    ["Docker's own rules", ms(percentile(docker, 50)), ms(percentile(docker, 99))],
    ['dockward run', ms(percentile(dockward, 50)), ms(percentile(dockward, 99))],
    ['ratio', `${p50} ${mark(percentile(dockward, 50) <= 1.1 * percentile(docker, 50))}`, `${p99} ${mark(percentile(dockward, 99) <= 1.1 * percentile(docker, 99))}`]]);
}

console.log(`dockward benchmark — ${new Date().toISOString()}, ${(await execa('nproc')).stdout} cores, load ${(await execa('cat', ['/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ')}`);
if (SIZES.length > 0) {
  await compileFigures();
  for (const backend of ['nft', 'legacy']) await backendFigures(backend);
}
await raceFigures();

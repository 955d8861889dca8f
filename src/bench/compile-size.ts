/**
 * Compile + render (hashing included) of N synthetic containers in a fresh process: time
 * (wall, and the process's CPU time, which a loaded machine disturbs less) and peak RSS;
 * then the same again in that process (warm: a running daemon's full resync).
 * `node compile-size.js N [basic]`.
 */
import { compile, DEFAULT_OPTIONS } from '../compile/index.js';
import { parsePolicy } from '../policy/load.js';
import { renderRuleset } from '../ruleset/plan.js';
import { BASIC_POLICY_YAML, BENCH_IPSETS, BENCH_POLICY_YAML, syntheticInventory } from './synthetic.js';

const size = Number(process.argv[2]);
/** `basic`: IPv4 only and source rules only, the first benchmark's shape. */
const basic = process.argv[3] === 'basic';
const parsed = parsePolicy(basic ? BASIC_POLICY_YAML : BENCH_POLICY_YAML, 'bench');
if (!parsed.ok) throw new Error('bench policy invalid');
const inventory = syntheticInventory(size, !basic);
const compileAndRender = () => compile(inventory, parsed.policy, { ...DEFAULT_OPTIONS, ipsets: BENCH_IPSETS }).rulesets.reduce((n, r) => n + renderRuleset(r).length, 0);
const cpu = process.cpuUsage();
const started = performance.now();
const bytes = compileAndRender();
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const rssMB = process.resourceUsage().maxRSS / 1024;
// Once more in the same process, without a cache: what a full resync costs a running daemon.
const again = performance.now();
compileAndRender();
const warmMs = performance.now() - again;
console.log(JSON.stringify({ size, ms, warmMs, cpuMs: (used.user + used.system) / 1000, bytes, rssMB }));

/** Compile + render (hashing included) of N synthetic containers in a fresh process: time and peak RSS. */
import { compile } from '../compile/index.js';
import { parsePolicy } from '../policy/load.js';
import { renderRuleset } from '../ruleset/plan.js';
import { BENCH_POLICY_YAML, syntheticInventory } from './synthetic.js';

const size = Number(process.argv[2]);
const parsed = parsePolicy(BENCH_POLICY_YAML, 'bench');
if (!parsed.ok) throw new Error('bench policy invalid');
const inventory = syntheticInventory(size);
const started = performance.now();
const bytes = compile(inventory, parsed.policy).rulesets.reduce((n, r) => n + renderRuleset(r).length, 0);
const ms = performance.now() - started;
console.log(JSON.stringify({ size, ms, bytes, rssMB: process.resourceUsage().maxRSS / 1024 }));

/**
 * status: what monitoring needs to know. Reads the daemon's status file and compares the
 * live rules with the rules it last put in force, by hash tags. Exit 0 only when the
 * daemon runs, the rules are in sync and nothing is failing; 1 otherwise.
 */
import { liveDrift } from '../../dataplane/apply.js';
import { StateDir, type StatusRecord } from '../../daemon/state-file.js';
import type { Change } from '../../ruleset/plan.js';
import type { Request } from '../args.js';
import { iptablesOf } from '../context.js';

interface Report {
  readonly running: boolean;
  readonly inSync: boolean;
  readonly drift: readonly string[];
  readonly healthy: boolean;
  readonly status?: StatusRecord;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function driftOf(request: Request, status: StatusRecord): Promise<string[]> {
  const ipt = await iptablesOf({ ...request, backend: status.backend === 'legacy' ? 'legacy' : 'nft' });
  const found: Change[] = [];
  for (const ruleset of status.desired) found.push(...await liveDrift(ipt, ruleset, true));
  return found.map((c) => `${c.kind} ${c.table}/${c.chain}`);
}

async function report(request: Request): Promise<Report> {
  const status = await new StateDir(request.stateDir).readStatus();
  if (!status) return { running: false, inSync: false, drift: [], healthy: false };
  const running = alive(status.pid);
  const drift = status.desired.length > 0 ? await driftOf(request, status) : ['nothing applied yet'];
  const inSync = drift.length === 0;
  const healthy = running && inSync && !status.lastError && !status.policy.error;
  return { running, inSync, drift, healthy, status };
}

function lastError(s: StatusRecord): string {
  if (s.lastError) return `${s.lastError.at}: ${s.lastError.message}`;
  return s.policy.error ? 'the policy file was rejected (below)' : 'none';
}

function lines(r: Report, dir: string): string[] {
  const s = r.status;
  if (!s) return [`dockward: not running (no status file in ${dir})`];
  const out = [
    `dockward: ${r.running ? `running (pid ${s.pid}, since ${s.startedAt})` : `not running (pid ${s.pid} is gone)`}, backend ${s.backend}`,
    `rules: ${r.inSync ? 'in sync (the live rules are the ones dockward last put in force)' : `drifted: ${r.drift.join('; ')}`}`,
    `last apply: ${s.lastApply ? `${s.lastApply.at}, took ${s.lastApply.durationMs} ms, ${s.lastApply.changes} changes` : 'none yet'}`,
    `last error: ${lastError(s)}`,
    `policy: ${s.policy.origin}${s.policy.hash ? ` (sha256 ${s.policy.hash.slice(0, 16)})` : ''}`,
    ...(s.policy.error ?? []).map((e) => `  rejected edit, last good policy in force: ${e}`),
    ...(s.warnings ?? []).map((w) => `warning: ${w}`),
    `docker: ${s.docker.reachable ? 'reachable' : 'unreachable (rules in force kept)'}`,
    `counts: ${s.stats ? `${s.stats.containers} containers, ${s.stats.mappings} mappings, ${s.stats.rules} rules` : 'none yet'}; ${s.applies} applies, ${s.repairs} repairs`,
  ];
  return out;
}

export async function status(request: Request): Promise<number> {
  const r = await report(request);
  if (request.json) {
    const { desired: _desired, ...rest } = r.status ?? ({ desired: [] } as unknown as StatusRecord);
    process.stdout.write(`${JSON.stringify({ healthy: r.healthy, running: r.running, inSync: r.inSync, drift: r.drift, ...rest }, null, 2)}\n`);
  } else {
    process.stdout.write(`${lines(r, request.stateDir).join('\n')}\n`);
  }
  return r.healthy ? 0 : 1;
}

/**
 * The running daemon, assembled: reconciler + scheduler + Docker events + watchdog +
 * policy reload (SIGHUP and file changes) + status file. `dockward run` starts it and
 * stops it on a signal; tests can start it in-process.
 */
import type Docker from 'dockerode';
import type { Conntrack } from '../dataplane/conntrack.js';
import { systemIpset } from '../dataplane/ipset.js';
import { ensureKernelState } from '../dataplane/kernel.js';
import type { Iptables } from '../dataplane/iptables.js';
import { InventoryReader } from '../inventory/docker.js';
import type { Logger } from '../log.js';
import { formatIssues } from '../policy/issues.js';
import type { Policy } from '../policy/types.js';
import { watchEvents } from './events.js';
import { policyReloader, watchPolicyFile } from './policy-watch.js';
import { CLEANUP, Reconciler } from './reconciler.js';
import { DEFAULT_SCHEDULE, Scheduler, systemClock } from './scheduler.js';
import type { StateDir, StatusRecord } from './state-file.js';
import { startWatchdog, type Watchdog } from './watchdog.js';

export interface DaemonConfig {
  readonly docker: Docker;
  /** A client without request timeout, for the event stream. */
  readonly dockerEvents: Docker;
  readonly iptables: Iptables;
  readonly conntrack?: Conntrack;
  readonly log: Logger;
  /**
   * path: the file to watch; `explicit` false means it may be absent (built-in default
   * then) — until a file has been loaded from there: from then on its absence is an error.
   */
  readonly policy: { readonly value: Policy; readonly hash?: string; readonly path: string; readonly explicit: boolean };
  readonly stateDir: StateDir;
  readonly resyncMs: number;
  readonly readbackMs: number;
  readonly canaryMs: number;
}

/** How often a missing ipset the policy names is looked for. */
const SETS_WATCH_MS = 2000;

/** What asked for a policy reload, named in the log. */
export type ReloadTrigger = 'SIGHUP' | 'file change';

export interface Daemon {
  readonly reconciler: Reconciler;
  reload(trigger: ReloadTrigger): Promise<void>;
  /** Stops every trigger and waits for an apply under way to end. */
  stop(): Promise<void>;
}

function statusOf(r: Reconciler, backend: string, startedAt: string): StatusRecord {
  const s = r.state;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    pid: process.pid, startedAt, backend,
    policy: { origin: s.policy.origin, ...(s.policyHash ? { hash: s.policyHash } : {}), ...(s.policyError ? { error: s.policyError } : {}) },
    ...(s.lastApply ? { lastApply: { ...s.lastApply, at: iso(s.lastApply.at) } } : {}),
    ...(s.lastError ? { lastError: { at: iso(s.lastError.at), message: s.lastError.message } } : {}),
    docker: { reachable: s.dockerReachable }, applies: s.applies, repairs: s.repairs,
    ...(s.stats ? { stats: s.stats } : {}), desired: s.desired,
    ...(s.notes?.length ? { warnings: s.notes } : {}),
  };
}

export async function startDaemon(c: DaemonConfig): Promise<Daemon> {
  const startedAt = new Date().toISOString();
  const fallback = await c.stateDir.readInventory();
  const reader = new InventoryReader(c.docker);
  // Assigned below, in the same turn as the first trigger: the reconciler writes only after awaiting Docker, by then it is set.
  let watchdog: Watchdog;
  let cleanup: NodeJS.Timeout | undefined;
  // Deferred deletions are batched: one cleanup a couple of seconds after the last event that left some.
  const cleanupSoon = (): void => {
    if (cleanup) clearTimeout(cleanup);
    cleanup = setTimeout(() => { cleanup = undefined; scheduler.trigger(CLEANUP); }, 2000);
  };
  const reconciler = new Reconciler({
    readInventory: (changed) => {
      reader.forget(changed);
      return reader.read();
    }, iptables: c.iptables, log: c.log,
    ...(fallback ? { fallbackInventory: fallback } : {}), ...(c.conntrack ? { conntrack: c.conntrack } : {}),
    onInventory: (inventory) => c.stateDir.writeInventory(inventory),
    kernel: ensureKernelState,
    ipset: systemIpset(),
    onHotApply: () => watchdog.checkSoon(),
    onFullWrite: (writing) => watchdog.applying(writing),
    onDeferred: () => cleanupSoon(),
  }, c.policy.value, c.policy.hash);
  const writeStatus = () => c.stateDir.writeStatus(statusOf(reconciler, c.iptables.backend, startedAt))
    .catch((e: Error) => c.log.warn({ err: e.message }, 'cannot write status file'));
  const scheduler = new Scheduler(async (reasons) => {
    const ok = await reconciler.reconcile(reasons);
    await writeStatus();
    return ok;
  }, DEFAULT_SCHEDULE, systemClock, (reason) => reconciler.interrupt(reason));

  const loadAgain = policyReloader(c.policy.path, c.policy.explicit || c.policy.hash !== undefined);
  const reload = async (trigger: ReloadTrigger): Promise<void> => {
    const result = await loadAgain();
    if (!result.ok) {
      reconciler.state.policyError = formatIssues(result.file, result.issues).split('\n');
      c.log.error({ trigger, problems: reconciler.state.policyError }, 'policy rejected; the last good policy stays in force');
      await writeStatus();
      return;
    }
    reconciler.setPolicy(result.policy, result.hash);
    c.log.info({ trigger, policy: result.policy.origin, hash: result.hash }, 'policy loaded');
    scheduler.trigger('policy-reload', { urgent: true });
  };

  scheduler.trigger('start');
  // A reconnected stream means Docker is back: its resync cuts a retry backoff short.
  const events = watchEvents(c.dockerEvents, c.log, (t) => scheduler.trigger(t.reason, { urgent: t.urgent === true, alone: t.alone === true }), reader);
  const resync = setInterval(() => scheduler.trigger('resync'), c.resyncMs);
  // A ban list named by the policy but not there yet comes in soon after its tool creates it.
  const setsWatch = setInterval(() => {
    if (reconciler.applying) return;
    reconciler.missingSetAppeared().then((appeared) => { if (appeared) scheduler.trigger('ipset-appeared'); })
      .catch((e: Error) => c.log.warn({ err: e.message }, 'cannot list ipsets'));
  }, SETS_WATCH_MS);
  watchdog = startWatchdog({
    iptables: c.iptables, log: c.log, desired: () => reconciler.state.desired, busy: () => reconciler.applying,
    onDrift: (reason) => scheduler.trigger(reason, { urgent: true }), canaryMs: c.canaryMs, readbackMs: c.readbackMs,
  });
  const fileWatch = watchPolicyFile(c.policy.path, () => void reload('file change'));

  return {
    reconciler,
    reload,
    async stop() {
      clearInterval(resync);
      clearInterval(setsWatch);
      if (cleanup) clearTimeout(cleanup);
      events.stop();
      watchdog.stop();
      fileWatch.stop();
      await scheduler.stop();
    },
  };
}

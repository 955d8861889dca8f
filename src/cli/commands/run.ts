/**
 * run: the daemon. Applies at start, then on Docker events (leading edge, coalesced),
 * on the periodic resync (which also repairs drift: a resync that finds the live rules
 * changed rewrites what differs) and on SIGHUP (policy reload). SIGTERM leaves the rules
 * in force unless --flush-on-exit.
 */
import { flushFamily } from '../../dataplane/apply.js';
import { watchEvents } from '../../daemon/events.js';
import { Reconciler } from '../../daemon/reconciler.js';
import { Scheduler } from '../../daemon/scheduler.js';
import { dockerClient, readInventory } from '../../inventory/docker.js';
import { createLogger } from '../../log.js';
import { loadPolicy } from '../../policy/load.js';
import { formatIssues } from '../../policy/issues.js';
import type { Request } from '../args.js';
import { iptablesOf, policyOf } from '../context.js';

export async function run(request: Request): Promise<number> {
  const log = createLogger(request.logLevel);
  const policy = await policyOf(request);
  const ipt = await iptablesOf(request);
  const host = request.dockerHost ? { host: request.dockerHost } : {};
  const docker = dockerClient(host);
  const reconciler = new Reconciler({ readInventory: () => readInventory(docker), iptables: ipt, log }, policy);
  const scheduler = new Scheduler((reasons) => reconciler.reconcile(reasons));
  log.info({ backend: ipt.backend, policy: policy.origin, resyncSeconds: request.resyncSeconds }, 'dockward starting');

  scheduler.trigger('start');
  const events = watchEvents(dockerClient({ ...host, timeoutMs: 0 }), log, (reason) => scheduler.trigger(reason));
  const resync = setInterval(() => scheduler.trigger('resync'), request.resyncSeconds * 1000);

  const reload = async (): Promise<void> => {
    const result = await loadPolicy(request.policy);
    if (!result.ok) {
      log.error({ problems: formatIssues(result.file, result.issues).split('\n') }, 'policy rejected; the last good policy stays in force');
      return;
    }
    reconciler.setPolicy(result.policy);
    log.info({ policy: result.policy.origin }, 'policy reloaded');
    scheduler.trigger('policy-reload');
  };
  process.on('SIGHUP', () => void reload());

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'stopping; rules stay in force');
  clearInterval(resync);
  events.stop();
  scheduler.stop();
  if (request.flushOnExit) {
    for (const family of ['ipv4', 'ipv6'] as const) await flushFamily(ipt, family);
    log.info('rules removed (--flush-on-exit)');
  }
  return 0;
}

/**
 * run: the daemon (see daemon/daemon.ts). A broken policy at start exits 2 with nothing
 * applied. SIGHUP reloads the policy; SIGTERM/SIGINT stop and leave the rules in force,
 * unless --flush-on-exit.
 */
import { systemConntrack } from '../../dataplane/conntrack.js';
import { systemIpset } from '../../dataplane/ipset.js';
import { removeAll } from '../../dataplane/remove-all.js';
import { startDaemon } from '../../daemon/daemon.js';
import { StateDir } from '../../daemon/state-file.js';
import { createLogger } from '../../log.js';
import { DEFAULT_POLICY_PATH } from '../../policy/load.js';
import type { Request } from '../args.js';
import { dockerOf, iptablesOf, loadedPolicyOf } from '../context.js';

/** Installed before anything else, so a SIGTERM during start-up is a clean stop too. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => resolve(signal));
  });
}

export async function run(request: Request): Promise<number> {
  const stopped = stopSignal();
  const log = createLogger(request.logLevel);
  const { policy, hash } = await loadedPolicyOf(request);
  const ipt = await iptablesOf(request, { standby: true });
  log.info({ backend: ipt.backend, policy: policy.origin, stateDir: request.stateDir }, 'dockward starting');
  const daemon = await startDaemon({
    docker: dockerOf(request), dockerEvents: dockerOf(request, 0),
    iptables: ipt, conntrack: systemConntrack(), log, stateDir: new StateDir(request.stateDir),
    policy: { value: policy, ...(hash ? { hash } : {}), path: request.policy ?? DEFAULT_POLICY_PATH, explicit: request.policy !== undefined },
    resyncMs: request.resyncSeconds * 1000, readbackMs: request.readbackSeconds * 1000, canaryMs: 250,
  });
  process.on('SIGHUP', () => void daemon.reload('SIGHUP'));
  const signal = await stopped;
  await daemon.stop();
  if (request.flushOnExit) {
    const { sets } = await removeAll(ipt, systemIpset());
    log.info({ signal, ...(sets.length > 0 ? { sets } : {}) }, 'stopped; rules removed (--flush-on-exit)');
  } else {
    // Said where an operator looks: until dockward runs again nobody follows Docker (README, Limitations).
    log.warn({ signal }, 'stopped; rules stay in force, but are not kept up to date until dockward runs again: a container started meanwhile may be given a stopped one\'s address, and its access');
  }
  return 0;
}

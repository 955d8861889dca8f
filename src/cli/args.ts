/** Command line → a validated request. Unknown commands and flags are usage errors (exit 2). */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { LOG_LEVELS } from '../log.js';
import type { Backend } from '../dataplane/iptables.js';

export const COMMANDS = ['apply', 'plan', 'inventory', 'check', 'flush', 'run'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Request {
  readonly command: Command;
  readonly policy?: string;
  readonly dockerHost?: string;
  readonly backend?: Backend;
  readonly logLevel: string;
  readonly inventory?: string;
  readonly resyncSeconds: number;
  readonly flushOnExit: boolean;
}

const OPTIONS = {
  policy: { type: 'string' },
  'docker-host': { type: 'string' },
  backend: { type: 'string' },
  'log-level': { type: 'string' },
  inventory: { type: 'string' },
  'resync-interval': { type: 'string' },
  'flush-on-exit': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const USAGE = `usage: dockward <command> [options]

commands:
  apply       compute the rules from Docker and the policy, load them, verify (exit 0 when live = desired)
  plan        print the restore text that apply would load and the changes against what is live
  inventory   print Docker's networks and running containers as JSON
  check       validate the policy file without touching anything
  flush       remove every dockward chain and hook (both families)
  run         the daemon: apply now, then on Docker events and every resync interval

options:
  --policy FILE            policy file (default /etc/dockward/policy.yaml; built-in default when absent)
  --docker-host URL        unix:///path or tcp://host:port (default $DOCKER_HOST, then /var/run/docker.sock)
  --backend nft|legacy     iptables backend (default: detected)
  --log-level LEVEL        ${LOG_LEVELS.join(' | ')} (default info)
  --inventory FILE         plan, apply: compile from an inventory JSON file instead of Docker (plan then needs no root)
  --resync-interval SECS   run: full resync period (default 10)
  --flush-on-exit          run: remove the rules on SIGTERM/SIGINT (default: leave them in force)
`;

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

export function parseRequest(argv: readonly string[]): Request | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) return 'help';
  const command = oneOf('command', positionals[0], COMMANDS);
  if (!command) throw new UsageError('no command');
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const resync = Number(values['resync-interval'] ?? '10');
  if (!(resync > 0)) throw new UsageError(`--resync-interval: must be a positive number of seconds (got "${values['resync-interval']}")`);
  const backend = oneOf('backend', values.backend, ['nft', 'legacy'] as const);
  return {
    command,
    logLevel: oneOf('log-level', values['log-level'], LOG_LEVELS) ?? 'info',
    resyncSeconds: resync,
    flushOnExit: values['flush-on-exit'] === true,
    ...(values.policy !== undefined ? { policy: values.policy } : {}),
    ...(values['docker-host'] !== undefined ? { dockerHost: values['docker-host'] } : {}),
    ...(backend ? { backend } : {}),
    ...(values.inventory !== undefined ? { inventory: values.inventory } : {}),
  };
}

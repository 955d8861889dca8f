/** Command line → a validated request. Unknown commands and flags are usage errors (exit 2). */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { dockerEndpoint, DOCKER_HOST_FORMS } from '../inventory/docker.js';
import { LOG_LEVELS } from '../log.js';
import type { Backend } from '../dataplane/iptables.js';
import { DEFAULT_STATE_DIR } from '../daemon/state-file.js';

export const COMMANDS = ['apply', 'plan', 'inventory', 'check', 'flush', 'run', 'status', 'doctor', 'explain'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Request {
  readonly command: Command;
  readonly policy?: string;
  readonly dockerHost?: string;
  readonly backend?: Backend;
  readonly logLevel: string;
  readonly inventory?: string;
  readonly resyncSeconds: number;
  readonly readbackSeconds: number;
  readonly flushOnExit: boolean;
  readonly stateDir: string;
  readonly json: boolean;
  /** explain: the container asked about (name or id prefix). */
  readonly container?: string;
  /** explain: --from ADDRESS[@INTERFACE], as typed. */
  readonly from?: string;
}

const OPTIONS = {
  policy: { type: 'string' },
  'docker-host': { type: 'string' },
  backend: { type: 'string' },
  'log-level': { type: 'string' },
  inventory: { type: 'string' },
  'resync-interval': { type: 'string' },
  'readback-interval': { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean' },
  'flush-on-exit': { type: 'boolean' },
  from: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

export const USAGE = `usage: dockward <command> [options]

commands:
  apply       compute the rules from Docker and the policy, load them, verify (exit 0 when live = desired)
  plan        print the restore text that apply would load and the changes against what is live
  inventory   print Docker's networks and running containers as JSON
  check       validate the policy file without touching anything
  flush       remove every dockward chain and hook (both families)
  run         the daemon: apply now, then on Docker events, on drift and every resync interval
  status      is the daemon running, are the live rules in sync, what failed last (exit 1 when not healthy)
  doctor      check this host for what would make the rules wrong or useless, each with a fix (exit 1 when a check fails)
  explain     explain CONTAINER (a name or an id prefix): who may reach each of its published ports, which rule decides, which chains do it

options:
  --policy FILE            policy file (default /etc/dockward/policy.yaml; built-in default when absent)
  --docker-host URL        unix:///path or tcp://host:port (default $DOCKER_HOST, then /var/run/docker.sock)
  --backend nft|legacy     iptables backend (default: detected)
  --log-level LEVEL        ${LOG_LEVELS.join(' | ')} (default info)
  --inventory FILE         plan, apply, explain: compile from an inventory JSON file instead of Docker (plan, explain then need no root)
  --resync-interval SECS   run: full resync with Docker every SECS (default 30)
  --readback-interval SECS run: compare the live rules with the desired ones every SECS (default 10)
  --state-dir DIR          run, status: where status.json and the last inventory live (default /var/lib/dockward)
  --json                   status, doctor, explain: machine-readable output
  --from ADDRESS[@IFACE]   explain: would a new connection from ADDRESS (arriving on IFACE; "host" = the host itself) get in, and by which rule
  --flush-on-exit          run: remove the rules on SIGTERM/SIGINT (default: leave them in force)
  --help, -h               this text
  --version                dockward's version
`;

/** Options that only some commands take; the common ones (policy, docker-host, backend, log-level, help) go with every command. */
const ONLY_FOR: Readonly<Partial<Record<keyof typeof OPTIONS, readonly Command[]>>> = {
  inventory: ['plan', 'apply', 'explain'],
  'resync-interval': ['run'],
  'readback-interval': ['run'],
  'flush-on-exit': ['run'],
  'state-dir': ['run', 'status'],
  json: ['status', 'doctor', 'explain'],
  from: ['explain'],
};

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

function commandOf(word: string): Command {
  if (!(COMMANDS as readonly string[]).includes(word)) throw new UsageError(`unknown command "${word}" (commands: ${COMMANDS.join(', ')})`);
  return word as Command;
}

function checkApplicable(command: Command, values: Record<string, unknown>): void {
  for (const [flag, commands] of Object.entries(ONLY_FOR)) {
    if (values[flag] !== undefined && !commands.includes(command)) {
      throw new UsageError(`--${flag} is an option of ${commands.join(', ')}, not of ${command}`);
    }
  }
}

function dockerHost(value: string | undefined): string | undefined {
  if (value === undefined || dockerEndpoint(value)) return value;
  throw new UsageError(`--docker-host: must be ${DOCKER_HOST_FORMS} (got "${value}")`);
}

/** node:util's parser messages name its own API; say the same in the words of this command line. */
function parseError(error: NodeJS.ErrnoException): UsageError {
  const message = error.message;
  const option = /'(--?[^' ]+)/.exec(message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${option ?? message}`);
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return new UsageError(/ambiguous/.test(message)
      ? `${option} needs a value; to give one that starts with "-", write ${option}=VALUE`
      : `${option}: ${/argument missing/.test(message) ? 'needs a value' : message}`);
  }
  return new UsageError(message);
}

function seconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`--${flag}: must be a positive number of seconds (got "${value}")`);
  return n;
}

export function parseRequest(argv: readonly string[]): Request | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw parseError(error as NodeJS.ErrnoException);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (values.version) return 'version';
  if (positionals.length === 0) throw new UsageError('no command given');
  const command = commandOf(positionals[0]!);
  checkApplicable(command, values);
  // Only explain takes an argument: the container it is about.
  const takes = command === 'explain' ? 2 : 1;
  if (positionals.length > takes) throw new UsageError(`unexpected argument "${positionals[takes]}"`);
  if (command === 'explain' && positionals[1] === undefined) throw new UsageError('explain needs a CONTAINER (a name or an id prefix)');
  const resync = seconds('resync-interval', values['resync-interval'], 30);
  const readback = seconds('readback-interval', values['readback-interval'], 10);
  const backend = oneOf('backend', values.backend, ['nft', 'legacy'] as const);
  return {
    command,
    logLevel: oneOf('log-level', values['log-level'], LOG_LEVELS) ?? 'info',
    resyncSeconds: resync,
    readbackSeconds: readback,
    flushOnExit: values['flush-on-exit'] === true,
    stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
    json: values.json === true,
    ...(values.policy !== undefined ? { policy: values.policy } : {}),
    ...(values['docker-host'] !== undefined ? { dockerHost: dockerHost(values['docker-host']) } : {}),
    ...(backend ? { backend } : {}),
    ...(values.inventory !== undefined ? { inventory: values.inventory } : {}),
    ...(command === 'explain' ? { container: positionals[1] } : {}),
    ...(values.from !== undefined ? { from: values.from } : {}),
  };
}

/**
 * What the commands share: the policy, the inventory, the iptables seam — each loaded
 * the same way everywhere, each failure mapped to the right exit code.
 */
import { readFile } from 'node:fs/promises';
import { InputError, RuntimeError, UsageError } from '../errors.js';
import { DEFAULT_DOCKER_HOST, dockerClient, dockerEndpoint, DOCKER_HOST_FORMS, readInventory } from '../inventory/docker.js';
import { inventorySchema } from '../inventory/schema.js';
import type { Inventory } from '../inventory/types.js';
import { loadPolicy } from '../policy/load.js';
import { formatIssues } from '../policy/issues.js';
import type { Policy } from '../policy/types.js';
import { detectBackend, systemIptables, type Iptables } from '../dataplane/iptables.js';
import type { Request } from './args.js';

export async function policyOf(request: Request): Promise<Policy> {
  return (await loadedPolicyOf(request)).policy;
}

/** The policy with its file hash; a bad file is an InputError (exit 2) naming every problem. */
export async function loadedPolicyOf(request: Request): Promise<{ policy: Policy; hash?: string }> {
  const result = await loadPolicy(request.policy);
  if (!result.ok) throw new InputError(formatIssues(result.file, result.issues).split('\n'));
  return result;
}

/** --docker-host (checked with the arguments), else DOCKER_HOST, checked here: a bad one is a usage error too. */
export function dockerHostOf(request: Request): string {
  if (request.dockerHost) return request.dockerHost;
  const env = process.env['DOCKER_HOST'];
  if (env === undefined || env === '') return DEFAULT_DOCKER_HOST;
  if (!dockerEndpoint(env)) throw new UsageError(`DOCKER_HOST: must be ${DOCKER_HOST_FORMS} (got "${env}")`);
  return env;
}

export function dockerOf(request: Request, timeoutMs?: number) {
  return dockerClient({ host: dockerHostOf(request), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

export async function inventoryOf(request: Request): Promise<Inventory> {
  if (request.inventory) return inventoryFile(request.inventory);
  const host = dockerHostOf(request);
  try {
    return await readInventory(dockerClient({ host }));
  } catch (error) {
    throw new RuntimeError(`cannot read the Docker inventory from ${host}: ${(error as Error).message}`);
  }
}

async function inventoryFile(file: string): Promise<Inventory> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new InputError([`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message}`]);
  }
  const parsed = inventorySchema.safeParse(data);
  if (!parsed.success) throw new InputError(parsed.error.issues.map((i) => inventoryProblem(file, i.path, i.message)));
  return parsed.data;
}

/** `FILE: PATH: message`, in the words of a file's author: a key that is not there is "missing". */
function inventoryProblem(file: string, path: readonly PropertyKey[], message: string): string {
  const place = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const said = /received undefined$/.test(message) ? `missing (${message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})` : message;
  return place === '' ? `${file}: ${said} (an inventory is an object {"networks": [...], "containers": [...]})` : `${file}: ${place}: ${said}`;
}

/** `standby`: restore programs kept started ahead of need, for the daemon (dataplane/program.ts). */
export async function iptablesOf(request: Request, options: { standby?: boolean } = {}): Promise<Iptables> {
  try {
    return systemIptables(request.backend ?? (await detectBackend()), options);
  } catch (error) {
    throw new RuntimeError(`cannot find iptables: ${(error as Error).message}`);
  }
}

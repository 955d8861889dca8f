/**
 * doctor: a read-only preflight of this host — what would make dockward's rules wrong or
 * useless here, each with its fix. Exit 0 when no check fails, 1 otherwise.
 */
import { runChecks } from '../../doctor/checks.js';
import { gatherFacts } from '../../doctor/facts.js';
import { exitCode, renderJson, renderText } from '../../doctor/report.js';
import type { Request } from '../args.js';
import { dockerHostOf, dockerOf } from '../context.js';

export async function doctor(request: Request): Promise<number> {
  const facts = await gatherFacts({
    docker: dockerOf(request),
    dockerHost: dockerHostOf(request),
    ...(request.backend ? { backend: request.backend } : {}),
    ...(request.policy !== undefined ? { policy: request.policy } : {}),
  });
  const results = runChecks(facts);
  process.stdout.write(request.json ? renderJson(results) : renderText(results));
  return exitCode(results);
}

/** Dispatch a command line to its command; map failures to exit codes and plain-text stderr. */
import { readFile } from 'node:fs/promises';
import { exitCodeOf, InputError } from '../errors.js';
import { parseRequest, USAGE, type Command, type Request } from './args.js';
import { apply } from './commands/apply.js';
import { check } from './commands/check.js';
import { doctor } from './commands/doctor.js';
import { explain } from './commands/explain.js';
import { flush } from './commands/flush.js';
import { inventory } from './commands/inventory.js';
import { plan } from './commands/plan.js';
import { run } from './commands/run.js';
import { status } from './commands/status.js';

const HANDLERS: Readonly<Record<Command, (r: Request) => Promise<number>>> = { apply, check, doctor, explain, flush, inventory, plan, run, status };

/** The version in package.json, which ships next to dist/. */
async function version(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const request = parseRequest(argv);
    if (request === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (request === 'version') {
      process.stdout.write(`dockward ${await version()}\n`);
      return 0;
    }
    return await HANDLERS[request.command](request);
  } catch (error) {
    const lines = error instanceof InputError ? error.lines : [`dockward: ${(error as Error).message}`];
    process.stderr.write(`${lines.join('\n')}\n`);
    if (exitCodeOf(error) === 2 && !(error instanceof InputError)) process.stderr.write('run "dockward --help" for usage\n');
    return exitCodeOf(error);
  }
}

import type { Request } from '../args.js';
import { inventoryOf } from '../context.js';

export async function inventory(request: Request): Promise<number> {
  process.stdout.write(`${JSON.stringify(await inventoryOf(request), null, 2)}\n`);
  return 0;
}

/** The demo's containers, for `npm run demo` and `npm run lab`: each answers with its name. */
import type { Lab } from './index.js';

export const DEMO_SET = 'web (443, 8080 → 80/tcp), admin (9000 → 80/tcp), dns (5353/udp echo), client';

export async function startDemoContainers(lab: Lab): Promise<void> {
  await Promise.all([
    lab.runHttp('web', { publish: ['443:80', '8080:80'] }),
    lab.runHttp('admin', { publish: ['9000:80'] }),
    lab.runUdpEcho('dns', { publish: ['5353:5353/udp'] }),
    lab.runHttp('client'),
  ]);
}

/**
 * Exclusive host mode with real traffic: dockward owns the host's whole ruleset. An
 * SSH-like port answers only from the internal link, the host's other services are
 * refused, loopback and published containers keep working, and a foreign INPUT rule that
 * was there before is gone. Refusals hold with filter or mangle wiped alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import type { ClientServer } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;
const POLICY = `version: 1
zones:
  internal: { interfaces: [${LAB_ADDR.internal.hostIf}] }
host:
  manage: true
  default: deny
  input:
    - { name: ssh, ports: [2222], from: [zone:internal] }
`;

let lab: Lab;
const files = scratch();
const servers: ClientServer[] = [];

/** [ssh from internal, ssh from external, service from internal, service from external, service on loopback, published container from external]. */
async function observed() {
  return Promise.all([
    lab.http('internal', `http://${INT}:2222/`),
    lab.http('external', `http://${EXT}:2222/`),
    lab.http('internal', `http://${INT}:8005/`),
    lab.http('external', `http://${EXT}:8005/`),
    lab.http('host', 'http://127.0.0.1:8005/'),
    lab.http('external', `http://${EXT}:8080/`),
  ]);
}
const reached = (seen: (string | null)[]) => seen.map((s) => s !== null);

beforeAll(async () => {
  lab = await startLab();
  await lab.runHttp('web', { publish: ['8080:80'] });
  for (const port of [2222, 8005]) servers.push(await lab.serveHttpInClient(lab.hostNs, port));
  await lab.inHost('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '9999', '-j', 'ACCEPT']);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await lab?.stop();
  files.cleanup();
});

describe('exclusive host mode', () => {
  it('before: the host\'s services answer everyone (control)', async () => {
    expect(reached(await observed())).toEqual([true, true, true, true, true, false]);
  });

  it('ssh only from the internal link, other services refused, loopback and published ports work, the foreign rule gone', async () => {
    const result = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(reached(await observed())).toEqual([true, false, false, false, true, true]);
    const [v6ssh, v6refused] = await Promise.all([
      lab.http('internal', `http://[${LAB_ADDR.internal.host6}]:2222/`),
      lab.http('external', `http://[${LAB_ADDR.external.host6}]:2222/`),
    ]);
    expect({ v6ssh: v6ssh !== null, v6refused }).toEqual({ v6ssh: true, v6refused: null });
    expect((await lab.inHost('iptables-save', [])).stdout).not.toContain('9999');
    const again = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)]);
    expect(again.stdout, 'an unchanged state restores nothing').toMatch(/ipv4 \(nft\): in sync, nothing changed/);
  });

  for (const table of ['mangle', 'filter']) {
    it(`keeps the host closed with ${table} wiped`, async () => {
      expect((await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)])).exitCode).toBe(0);
      await lab.inHost('iptables', ['-t', table, '-F']);
      expect(reached(await observed()).slice(0, 5)).toEqual([true, false, false, false, true]);
    });
  }
});

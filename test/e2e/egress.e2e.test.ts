/**
 * Outbound traffic with real servers: `defaults.outbound: deny` and egress rules that
 * allow one destination on a client link, one service on the host itself and DNS-like
 * UDP to a resolver on the host's gateway address. Refusals hold with filter or mangle
 * wiped alone; replies to inbound traffic always pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, spawnIn, startLab, type Lab } from '../../src/lab/index.js';
import { PYTHON } from '../../src/lab/probes.js';
import type { ClientServer } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

const CLIENT = LAB_ADDR.external.client;
const CLIENT2 = LAB_ADDR.external.client2;
let gateway: string;

const policy = () => `version: 1
zones:
  uplink: { interfaces: [${LAB_ADDR.external.hostIf}] }
defaults: { outbound: deny }
egress:
  - { name: api, containers: app, to: [${CLIENT}/32], ports: [8000/tcp] }
  - { name: resolver, containers: app, to: [${gateway}], ports: [8002/tcp] }
  - { name: dns, containers: app, to: [${gateway}], ports: [53/udp] }
  - { name: smtp, containers: app, to: [zone:uplink], ports: [8001/tcp], action: reject }
`;

let lab: Lab;
const files = scratch();
const servers: ClientServer[] = [];

async function apply(): Promise<void> {
  const result = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', policy())]);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

/** What app and idle see of the servers: [allowed, other port, other address, host allowed, host other, idle → allowed]. */
async function observed() {
  const get = (who: string, url: string) => lab.http({ container: who }, url);
  return Promise.all([
    get('app', `http://${CLIENT}:8000/`),
    get('app', `http://${CLIENT}:8001/`),
    get('app', `http://${CLIENT2}:8000/`),
    get('app', `http://${gateway}:8002/`),
    get('app', `http://${gateway}:8003/`),
    get('idle', `http://${CLIENT}:8000/`),
  ]);
}

const EXPECTED = [expect.any(String), null, null, expect.any(String), null, null];

/** A DNS-like UDP echo on the host's gateway address, port 53: answers "dns:PAYLOAD". */
const RESOLVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("READY", flush=True)
while True:
    data, addr = s.recvfrom(512)
    s.sendto(b"dns:" + data, addr)
`;
let resolver: ReturnType<typeof spawnIn> | undefined;

async function startResolver(): Promise<void> {
  resolver = spawnIn(lab.hostNs, PYTHON, ['-u', '-c', RESOLVER, gateway]);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the UDP resolver did not start')), 10_000);
    resolver!.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** [app's query answered, idle's query answered]. */
const dns = () => Promise.all(['app', 'idle'].map((who) => lab.udp({ container: who }, gateway, 53, { payload: `q-${who}` })));

beforeAll(async () => {
  lab = await startLab();
  await Promise.all([lab.runHttp('app', { publish: ['8080:80'] }), lab.runHttp('idle')]);
  gateway = (await lab.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])) || '172.17.0.1';
  for (const port of [8000, 8001]) servers.push(await lab.serveHttpInClient('external', port));
  for (const port of [8002, 8003]) servers.push(await lab.serveHttpInClient(lab.hostNs, port));
  await startResolver();
});

afterAll(async () => {
  resolver?.kill();
  await resolver;
  await Promise.all(servers.map((s) => s.stop()));
  await lab?.stop();
  files.cleanup();
});

describe('outbound traffic', () => {
  it('without egress rules, containers reach everything (control)', async () => {
    expect((await dockward(lab, ['apply'])).exitCode).toBe(0);
    expect(await observed()).toEqual(Array(6).fill(expect.any(String)));
    expect(await dns()).toEqual(['dns:q-app', 'dns:q-idle']);
  });

  it('outbound deny: app reaches only the allowed destination and host service; idle reaches nothing', async () => {
    await apply();
    expect(await observed()).toEqual(EXPECTED);
    expect(await lab.tcpReset({ container: 'app' }, CLIENT, 8001), 'a reject rule answers with a reset').toBe('reset');
  });

  it('DNS-like UDP to the resolver on the gateway address: answered for app, which a rule allows; refused for idle', async () => {
    await apply();
    expect(await dns()).toEqual(['dns:q-app', null]);
  });

  it('replies to inbound traffic pass: the published port still answers from outside', async () => {
    await apply();
    expect(await lab.http('external', `http://${LAB_ADDR.external.host}:8080/`)).toBe('app');
  });

  for (const table of ['mangle', 'filter']) {
    it(`keeps refused destinations refused with ${table} wiped`, async () => {
      await apply();
      await lab.inHost('iptables', ['-t', table, '-F']);
      const seen = await observed();
      expect(seen.map((s) => s !== null)).toEqual([true, false, false, true, false, false]);
    });
  }
});

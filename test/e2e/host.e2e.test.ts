/**
 * `host.toContainers` with curl from the host namespace itself: through a published port
 * on a host address and on 127.0.0.1 (nat OUTPUT), and straight to a container address
 * (filter OUTPUT). Refusals hold with filter or mangle wiped alone; clients on the links
 * are not affected (positive control).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const POLICY = `version: 1
host:
  toContainers:
    - { name: proxy, containers: web, ports: [8080] }
    - { name: probe, containers: db, containerPorts: [5432] }
    - { action: reject }
`;

let lab: Lab;
const files = scratch();
const ip: Record<string, string> = {};

/** What the host sees: [web via EXT, web via 127.0.0.1, web direct :80, db direct :5432, db direct :80, other via EXT, other direct, other via 127.0.0.1]. */
async function fromHost() {
  const get = (url: string) => lab.http('host', url);
  return Promise.all([
    get(`http://${EXT}:8080/`),
    get('http://127.0.0.1:8080/'),
    get(`http://${ip.web}:80/`),
    get(`http://${ip.db}:5432/`),
    get(`http://${ip.db}:80/`),
    get(`http://${EXT}:9090/`),
    get(`http://${ip.other}:80/`),
    get('http://127.0.0.1:9090/'),
  ]);
}

async function apply(yaml?: string): Promise<void> {
  const args = yaml === undefined ? ['apply'] : ['apply', '--policy', files.policy('policy.yaml', yaml)];
  const result = await dockward(lab, args);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

beforeAll(async () => {
  lab = await startLab();
  await Promise.all([
    lab.runHttp('web', { publish: ['8080:80'] }),
    lab.runHttp('db', { ports: [5432] }),
    lab.runHttp('other', { publish: ['9090:80'] }),
  ]);
  for (const name of ['web', 'db', 'other']) ip[name] = await lab.containerIp(name);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('traffic from the host itself', () => {
  it('without host rules, the host reaches every container port, published or direct (as Docker)', async () => {
    await apply();
    expect(await fromHost()).toEqual(['web', 'web', 'web', 'db', 'db', 'other', 'other', 'other']);
  });

  it('host.toContainers decides both ways: published ports and container addresses', async () => {
    await apply(POLICY);
    // web on 127.0.0.1:8080 is the positive control of other on 127.0.0.1:9090.
    expect(await fromHost()).toEqual(['web', 'web', null, 'db', null, null, null, null]);
    expect(await lab.tcpReset('host', EXT, 9090), 'reject answers with a reset').toBe('reset');
    expect(await lab.tcpReset('host', '127.0.0.1', 9090), 'on localhost too: a reset, not dockerd\'s listener').toBe('reset');
    expect(await lab.http('external', `http://${EXT}:9090/`), 'a client on a link is not governed by host rules').toBe('other');
  });

  for (const table of ['mangle', 'filter']) {
    it(`keeps refused host traffic refused with ${table} wiped`, async () => {
      await apply(POLICY);
      await lab.inHost('iptables', ['-t', table, '-F']);
      expect(await fromHost()).toEqual(['web', 'web', null, 'db', null, null, null, null]);
    });
  }
});

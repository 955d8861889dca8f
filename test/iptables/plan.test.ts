/**
 * `plan` against the live rules, with real iptables in a private namespace and a fake Docker
 * API on a unix socket (the inventory comes through dockerode as in production): before an
 * apply it has everything to load; after one it says in sync, loads nothing and changes nothing.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saved, withNetns } from '../helpers/netns.js';

const NET_ID = 'a1'.repeat(32);
const WEB_ID = 'd4'.repeat(32);
const IMAGE_ID = `sha256:${'f'.repeat(64)}`;

/** The answers of a 20.10 dockerd with one network and one container publishing 443 and 8080:80. */
const ROUTES: Record<string, unknown> = {
  '/networks': [{
    Name: 'bridge', Id: NET_ID, Driver: 'bridge', Internal: false, IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16' }] },
    Options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_ip_masquerade': 'false', 'com.docker.network.bridge.name': 'docker0' },
    Labels: {},
  }],
  '/containers/json': [{ Id: WEB_ID, Names: ['/web'], State: 'running' }],
  [`/containers/${WEB_ID}/json`]: {
    Id: WEB_ID, Name: '/web', Image: IMAGE_ID, State: { Status: 'running', Running: true },
    HostConfig: { NetworkMode: 'default', Links: null }, Config: { Image: 'dwlab/busybox:1', Labels: {}, ExposedPorts: { '80/tcp': {} } },
    NetworkSettings: {
      Ports: { '443/tcp': [{ HostIp: '0.0.0.0', HostPort: '443' }], '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }] },
      Networks: { bridge: { NetworkID: NET_ID, IPAddress: '172.17.0.2', Gateway: '172.17.0.1', GlobalIPv6Address: '' } },
    },
  },
  // dockward tells a container's own labels from its image's.
  [`/images/${IMAGE_ID}/json`]: { Id: IMAGE_ID, Config: { Labels: null } },
};

let server: Server;
let dir: string;
let dockerHost: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dw-fake-docker-'));
  const socket = join(dir, 'docker.sock');
  server = createServer((req, res) => {
    const body = ROUTES[new URL(req.url ?? '/', 'http://docker').pathname.replace(/^\/v[\d.]+/, '')];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { message: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  dockerHost = `unix://${socket}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

for (const backend of ['nft', 'legacy'] as const) {
  describe(`plan against live iptables-${backend} rules`, () => {
    it('before apply: changes to load; after apply: in sync, nothing to load, and iptables-save unchanged', async () => {
      await withNetns(async (ns) => {
        const flags = ['--backend', backend, '--docker-host', dockerHost];
        const first = await ns.dockward(['plan', ...flags]);
        expect(first.exitCode, String(first.stderr)).toBe(0);
        expect(first.stdout).toMatch(new RegExp(`^# ipv4 \\(backend ${backend}\\): \\d+ changes$`, 'm'));
        expect(first.stdout).toContain('-j DNAT --to-destination 172.17.0.2:80');

        const applied = await ns.dockward(['apply', ...flags]);
        expect(applied.exitCode, String(applied.stderr)).toBe(0);
        const [v4, v6] = [await saved(ns, backend), await saved(ns, backend, 'ipv6')];
        expect(v4).toContain('-j DNAT --to-destination 172.17.0.2:443');

        const planned = await ns.dockward(['plan', ...flags]);
        expect(planned.exitCode).toBe(0);
        expect(planned.stdout).toMatch(new RegExp(`^# ipv4 \\(backend ${backend}\\): in sync, nothing to load$`, 'm'));
        expect(planned.stdout).toMatch(new RegExp(`^# ipv6 \\(backend ${backend}\\): in sync, nothing to load$`, 'm'));
        expect(String(planned.stdout).split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
        expect(await saved(ns, backend)).toBe(v4);
        expect(await saved(ns, backend, 'ipv6')).toBe(v6);
      });
    });
  });
}

/**
 * Docker 28's gateway modes, read from the network's options (dockerd 20.10 stores them
 * without acting on them, which is all dockward needs): routed networks are reached at
 * their containers' addresses without NAT, nat-unprotected ones also to unpublished ports,
 * isolated ones not at all; host_ipv4 sets the address outbound traffic leaves from.
 * Each refusal has a positive control.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward } from './dockward.js';

const E = LAB_ADDR.external;
let lab: Lab;
const mode = (m: string) => ['-o', `com.docker.network.bridge.gateway_mode_ipv4=${m}`];

beforeAll(async () => {
  lab = await startLab({ dockerdArgs: ['--ipv6', '--fixed-cidr-v6', 'fd00:d0f::/64'] });
  await lab.docker(['network', 'create', ...mode('routed'), '-o', 'com.docker.network.bridge.gateway_mode_ipv6=routed',
    '--ipv6', '--subnet', '172.40.0.0/16', '--subnet', 'fd00:40::/64', 'rnet']);
  await lab.docker(['network', 'create', ...mode('nat-unprotected'), '--subnet', '172.41.0.0/16', 'unet']);
  await lab.docker(['network', 'create', ...mode('isolated'), '--internal', '--subnet', '172.42.0.0/16', 'inet']);
  await lab.docker(['network', 'create', '-o', `com.docker.network.host_ipv4=${E.host}`, '--subnet', '172.43.0.0/16', 'snet']);
  await lab.docker(['network', 'create', '--ipv6', '-o', `com.docker.network.host_ipv6=${E.host6}`, '--subnet', '172.44.0.0/16', '--subnet', 'fd00:44::/64', 's6net']);
  await Promise.all([
    lab.runHttp('rweb', { network: 'rnet', ports: [81], publish: ['8090:80'] }),
    lab.runHttp('uweb', { network: 'unet', ports: [81], publish: ['8091:80'] }),
    lab.runHttp('iweb', { network: 'inet' }),
    lab.runHttp('nweb', { ports: [81], publish: ['8092:80'] }),
    lab.runHttp('sweb', { network: 'snet' }),
    lab.runHttp('s6web', { network: 's6net' }),
  ]);
  const applied = await dockward(lab, ['apply']);
  expect(applied.stderr).toBe('');
});

afterAll(async () => {
  await lab?.stop();
});

it('routed: the container answers at its own address on its published port, untranslated, and leaves with its own address', async () => {
  const ip = await lab.containerIp('rweb');
  const [direct, viaHost] = await Promise.all([
    lab.http('external', `http://${ip}:80/`),
    lab.http('external', `http://${E.host}:8090/`),
  ]);
  expect(direct).toBe('rweb');
  expect(viaHost).toBeNull();
  const server = await lab.serveHttpInClient('external', 8002);
  try {
    expect(await lab.http({ container: 'rweb' }, `http://${E.client}:8002/`)).not.toBeNull();
    expect(server.requests().map((r) => r.source)).toEqual([ip]);
  } finally {
    await server.stop();
  }
});

it('routed: an unpublished port of the container is refused while the published one answers', async () => {
  const ip = await lab.containerIp('rweb');
  const [published, unpublished] = await Promise.all([
    lab.http('external', `http://${ip}:80/`),
    lab.http('external', `http://${ip}:81/`),
  ]);
  expect(published).toBe('rweb');
  expect(unpublished).toBeNull();
  expect(await lab.http({ container: 'rweb' }, `http://${ip}:81/`), 'the port does serve inside the container').toBe('rweb');
});

it('routed: the container answers ping (ICMP and ICMPv6) from outside, as with Docker; a nat-mode container does not', async () => {
  const [rweb, nweb, rweb6, nweb6] = await Promise.all([lab.containerIp('rweb'), lab.containerIp('nweb'),
    lab.containerIp('rweb', 'rnet', 'ipv6'), lab.containerIp('nweb', undefined, 'ipv6')]);
  const ping = (ip: string) => lab.exec('external', 'busybox', [ip.includes(':') ? 'ping6' : 'ping', '-c', '1', '-W', '1', ip], { reject: false })
    .then((r) => r.exitCode);
  const [routed, routed6, nat, nat6] = await Promise.all([ping(rweb), ping(rweb6), ping(nweb), ping(nweb6)]);
  expect([routed, routed6]).toEqual([0, 0]);
  expect(nat, 'direct access to a nat-mode container stays refused').not.toBe(0);
  expect(nat6, 'direct access to a nat-mode container stays refused').not.toBe(0);
});

it('nat-unprotected: published ports are translated, and unpublished ones are open to direct routing too', async () => {
  const [uweb, nweb] = await Promise.all([lab.containerIp('uweb'), lab.containerIp('nweb')]);
  const [published, unpublished, protectedDirect] = await Promise.all([
    lab.http('external', `http://${E.host}:8091/`),
    lab.http('external', `http://${uweb}:81/`),
    lab.http('external', `http://${nweb}:81/`),
  ]);
  expect(published).toBe('uweb');
  expect(unpublished).toBe('uweb');
  expect(protectedDirect, 'a network in the default nat mode stays closed to direct routing').toBeNull();
});

it('isolated: nothing from outside reaches the container', async () => {
  const ip = await lab.containerIp('iweb');
  expect(await lab.http('external', `http://${ip}:80/`)).toBeNull();
  expect(await lab.http({ container: 'iweb' }, `http://${ip}:80/`)).toBe('iweb');
});

it('host_ipv4: outbound traffic leaves from that address, whatever link it takes', async () => {
  const server = await lab.serveHttpInClient('internal', 8003);
  try {
    const [snat, masq] = await Promise.all([
      lab.http({ container: 'sweb' }, `http://${LAB_ADDR.internal.client}:8003/`),
      lab.http({ container: 'nweb' }, `http://${LAB_ADDR.internal.client}:8003/`),
    ]);
    expect(snat).not.toBeNull();
    expect(masq).not.toBeNull();
    expect(server.requests().map((r) => r.source).sort()).toEqual([E.host, LAB_ADDR.internal.host].sort());
  } finally {
    await server.stop();
  }
});

it('host_ipv6: outbound IPv6 traffic leaves from that address, whatever link it takes', async () => {
  const server = await lab.serveHttpInClient('internal', 8004);
  try {
    const [snat, masq] = await Promise.all([
      lab.http({ container: 's6web' }, `http://[${LAB_ADDR.internal.client6}]:8004/`),
      lab.http({ container: 'nweb' }, `http://[${LAB_ADDR.internal.client6}]:8004/`),
    ]);
    expect(snat).not.toBeNull();
    expect(masq, 'the default bridge masquerades with the outgoing link\'s address').not.toBeNull();
    expect(server.requests().map((r) => r.source).sort()).toEqual([E.host6, LAB_ADDR.internal.host6].sort());
  } finally {
    await server.stop();
  }
});

/**
 * The main job on real input: dockerd with its rules off, real containers, dockward
 * computing and loading the rules, and real TCP/UDP traffic from two client links.
 * "Reachable" means the container answered with its name; every refusal has a positive
 * control in the same test.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, INTERNAL_ONLY, scratch, startDockward } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;

let lab: Lab;
const files = scratch();

/** What each probe answered: the container's name, or null. */
async function reach(from: 'external' | 'internal', host: string, opts: { source?: string } = {}) {
  const [p443, p8080, p10443, udp, unpublished] = await Promise.all([
    lab.http(from, `http://${host}:443/`, opts),
    lab.http(from, `http://${host}:8080/`, opts),
    lab.http(from, `http://${host}:10443/`, opts),
    lab.udp(from, host, 5353, { ...opts, payload: 'ping' }),
    lab.http(from, `http://${host}:80/`, opts),
  ]);
  return { p443, p8080, p10443, udp, unpublished };
}

async function applyPolicy(yaml?: string) {
  const args = yaml === undefined ? ['apply'] : ['apply', '--policy', files.policy('policy.yaml', yaml)];
  const result = await dockward(lab, args);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

beforeAll(async () => {
  lab = await startLab();
  await lab.docker(['network', 'create', 'appnet']);
  await Promise.all([
    lab.runHttp('web', { ports: [443], publish: ['443:443', '8080:80'] }),
    lab.runHttp('alt', { network: 'appnet', ports: [443], publish: ['10443:443'] }),
    lab.runUdpEcho('echo', { network: 'appnet', publish: ['5353:5353/udp'] }),
    lab.runHttp('quiet'),
  ]);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('dockward end to end', () => {
  it('a. built-in default: every published TCP and UDP port answers from both links, unpublished ones do not', async () => {
    expect(existsSync('/etc/dockward/policy.yaml'), 'the built-in default needs no file at the default path').toBe(false);
    await applyPolicy();
    const expected = { p443: 'web', p8080: 'web', p10443: 'alt', udp: 'echo:ping', unpublished: null };
    expect(await reach('external', EXT)).toEqual(expected);
    expect(await reach('internal', INT)).toEqual(expected);
  });

  it('the host itself reaches a published port on its own addresses, whatever the policy says of other sources', async () => {
    await applyPolicy('version: 1\ndefaults: { published: deny }\n');
    const [fromHost, fromHostInternal, fromClient] = await Promise.all([
      lab.http('host', `http://${EXT}:8080/`),
      lab.http('host', `http://${INT}:443/`),
      lab.http('external', `http://${EXT}:8080/`),
    ]);
    expect(fromHost).toBe('web');
    expect(fromHostInternal).toBe('web');
    expect(fromClient).toBeNull();
  });

  it('works the same with iptables-legacy', async () => {
    expect((await dockward(lab, ['flush'])).exitCode).toBe(0);
    try {
      const policy = files.policy('legacy.yaml', `version: 1\ndefaults: { published: deny }\nrules:\n  - { ports: [443], from: [${LAB_ADDR.external.client}/32] }\n`);
      const applied = await dockward(lab, ['apply', '--backend', 'legacy', '--policy', policy]);
      expect(applied.stdout).toContain('ipv4 (legacy)');
      expect((await lab.inHost('iptables-legacy-save', [])).stdout).toContain('DOCKWARD-FORWARD');
      const [admitted, refused] = await Promise.all([
        lab.http('external', `http://${EXT}:443/`, { source: LAB_ADDR.external.client }),
        lab.http('external', `http://${EXT}:443/`, { source: LAB_ADDR.external.client2 }),
      ]);
      expect(admitted).toBe('web');
      expect(refused).toBeNull();
    } finally {
      expect((await dockward(lab, ['flush', '--backend', 'legacy'])).exitCode).toBe(0);
    }
  });

  it('a. built-in default: a container reaches a server on a client link, which sees the host address', async () => {
    await applyPolicy();
    const server = await lab.serveHttpInClient('external', 8000);
    try {
      const answer = await lab.http({ container: 'web' }, `http://${LAB_ADDR.external.client}:8000/`);
      expect(answer).not.toBeNull();
      expect(server.requests().map((r) => r.source)).toEqual([EXT]);
    } finally {
      await server.stop();
    }
  });

  it('b. the external link reaches only host port 443/tcp; the internal link reaches every published port', async () => {
    await applyPolicy(`version: 1
zones:
  external: { interfaces: [${LAB_ADDR.external.hostIf}] }
  internal: { interfaces: [${LAB_ADDR.internal.hostIf}] }
defaults: { published: deny }
rules:
  - { name: public-https, ports: [443/tcp], from: [zone:external] }
  - { name: lan, from: [zone:internal] }
`);
    expect(await reach('external', EXT)).toEqual({ p443: 'web', p8080: null, p10443: null, udp: null, unpublished: null });
    expect(await reach('internal', INT)).toEqual({ p443: 'web', p8080: 'web', p10443: 'alt', udp: 'echo:ping', unpublished: null });
  });

  it('b. containerPorts: [443/tcp] also admits the 10443:443 mapping', async () => {
    await applyPolicy(`version: 1
zones:
  external: { interfaces: [${LAB_ADDR.external.hostIf}] }
defaults: { published: deny }
rules:
  - { containerPorts: [443/tcp], from: [zone:external] }
`);
    expect(await reach('external', EXT)).toEqual({ p443: 'web', p8080: null, p10443: 'alt', udp: null, unpublished: null });
  });

  it('d. direct routed access to a container address is refused, while its published port answers', async () => {
    await applyPolicy();
    const [web, quiet] = await Promise.all([lab.containerIp('web'), lab.containerIp('quiet')]);
    const [viaHost, direct, directQuiet] = await Promise.all([
      lab.http('external', `http://${EXT}:8080/`),
      lab.http('external', `http://${web}:80/`),
      lab.http('internal', `http://${quiet}:80/`),
    ]);
    expect(viaHost).toBe('web');
    expect(direct).toBeNull();
    expect(directQuiet).toBeNull();
  });

  it('e. a source CIDR admits one client address and refuses another on the same link', async () => {
    await applyPolicy(`version: 1
defaults: { published: deny }
rules:
  - { ports: [8080], from: [${LAB_ADDR.external.client}/32] }
`);
    const [admitted, refused] = await Promise.all([
      lab.http('external', `http://${EXT}:8080/`, { source: LAB_ADDR.external.client }),
      lab.http('external', `http://${EXT}:8080/`, { source: LAB_ADDR.external.client2 }),
    ]);
    expect(admitted).toBe('web');
    expect(refused).toBeNull();
  });

  it('c. with dockward run going, a container started later is reachable per policy within 2 s, and a stopped one is gone within 2 s', async () => {
    const policy = files.policy('run.yaml', INTERNAL_ONLY);
    const daemon = startDockward(lab, ['--policy', policy, '--state-dir', files.dir]);
    try {
      await daemon.waitForLog((r) => r.msg === 'applied');
      await lab.runHttp('late', { network: 'appnet', publish: ['9090:80'] });
      const ms = await eventually(async () => (await lab.http('internal', `http://${INT}:9090/`)) === 'late', 2000);
      expect(await lab.http('external', `http://${EXT}:9090/`)).toBeNull();
      const ip = await lab.containerIp('late');
      await lab.docker(['stop', 'late']);
      await eventually(async () => !(await lab.inHost('iptables-save', [])).stdout.includes(`${ip}:80`), 2000);
      expect(await lab.http('internal', `http://${INT}:8080/`)).toBe('web');
      console.log(`late container reachable ${ms} ms after docker run returned`);
      const status = JSON.parse((await dockward(lab, ['status', '--json', '--state-dir', files.dir])).stdout);
      expect(status).toMatchObject({ healthy: true, running: true, inSync: true, backend: 'nft', docker: { reachable: true } });
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    expect((await lab.inHost('iptables-save', [])).stdout, 'SIGTERM leaves the rules in force').toContain('DOCKWARD-FORWARD');
  });

  it('run --flush-on-exit removes its rules on SIGTERM', async () => {
    const daemon = startDockward(lab, ['--state-dir', files.dir, '--flush-on-exit']);
    await eventually(async () => (await lab.http('external', `http://${EXT}:8080/`)) === 'web', 5000);
    expect(await daemon.stop()).toBe(0);
    const rules = (await lab.inHost('iptables-save', [])).stdout;
    expect(rules).not.toContain('DOCKWARD');
    expect(rules).not.toContain('DW:');
  });
});

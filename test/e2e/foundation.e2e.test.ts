/**
 * The main job on real input: dockerd with its rules off, real containers, dockward
 * computing and loading the rules, and real TCP/UDP traffic from two client links.
 * "Reachable" means the container answered with its name; every refusal has a positive
 * control in the same test.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionChain, containerChain, egressChain, egressHostChain, hostChain } from '../../src/compile/names.js';
import type { Inventory } from '../../src/inventory/types.js';
import { IMAGE, LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { CLI, dockward, eventually, INTERNAL_ONLY, liveRules, scratch, startDockward } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;

let lab: Lab;
const files = scratch();

/** What each probe answered: the container's name, or null. */
async function reach(from: 'external' | 'internal', host: string, opts: { source?: string } = {}) {
  const [p443, p8080, p10443, udp, unpublished, served] = await Promise.all([
    lab.http(from, `http://${host}:443/`, opts),
    lab.http(from, `http://${host}:8080/`, opts),
    lab.http(from, `http://${host}:10443/`, opts),
    lab.udp(from, host, 5353, { ...opts, payload: 'ping' }),
    lab.http(from, `http://${host}:80/`, opts),
    // web serves 9443 but does not publish it
    lab.http(from, `http://${host}:9443/`, opts),
  ]);
  return { p443, p8080, p10443, udp, unpublished, served };
}

/** Every chain name dockward derives for one container. */
const chainsOf = (id: string) => [containerChain(id), connectionChain(id), egressChain(id), egressHostChain(id), hostChain(id)];

/** Both families' live rules. */
async function liveBoth(): Promise<string> {
  const [v4, v6] = await Promise.all([lab.inHost('iptables-save', []), lab.inHost('ip6tables-save', [])]);
  return `${v4.stdout}\n${v6.stdout}`;
}

/** The restore text of `plan` output: everything but its comment lines. */
const restoreText = (out: string) => out.split('\n').filter((l) => !l.startsWith('#')).join('\n');

async function applyPolicy(yaml?: string) {
  const args = yaml === undefined ? ['apply'] : ['apply', '--policy', files.policy('policy.yaml', yaml)];
  const result = await dockward(lab, args);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

let webId: string;
const sleeper = ['/bin/busybox', 'sleep', '3600'];

beforeAll(async () => {
  lab = await startLab();
  await lab.docker(['network', 'create', 'appnet']);
  [webId] = await Promise.all([
    lab.runHttp('web', { ports: [443, 9443], publish: ['443:443', '8080:80'] }),
    lab.runHttp('alt', { network: 'appnet', ports: [443], publish: ['10443:443'] }),
    lab.runUdpEcho('echo', { network: 'appnet', publish: ['5353:5353/udp'] }),
    lab.runHttp('quiet'),
    // Network modes with no endpoint of their own: every test below runs with them present.
    lab.runPlain('hostnet', { network: 'host', cmd: sleeper, mountUsr: false }),
  ]);
  await lab.runPlain('sidecar', { network: 'container:web', cmd: sleeper, mountUsr: false });
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('dockward end to end', () => {
  // First: nothing is applied yet, so `plan` against the live rules is the whole desired ruleset.
  it('inventory prints the snapshot (DOCKER_HOST, no flag), and plan --inventory of it is what plan shows live', async () => {
    const env = { ...process.env, DOCKER_HOST: lab.dockerHost } as Record<string, string>;
    const printed = await lab.inHost(process.execPath, [CLI, 'inventory'], { reject: false, env });
    expect(printed.stderr).toBe('');
    expect(printed.exitCode).toBe(0);
    const inv = JSON.parse(printed.stdout) as Inventory;
    const appnet = inv.networks.find((n) => n.name === 'appnet')!;
    expect(inv.networks.find((n) => n.name === 'bridge')).toMatchObject({
      // Docker 20.10 reports no gateway for the default bridge (IPAM.Config holds the subnet alone).
      bridge: 'docker0', isDefault: true, internal: false, subnets: [{ family: 'ipv4', cidr: '172.17.0.0/16' }],
    });
    expect(appnet.subnets).toEqual([{ family: 'ipv4', cidr: expect.stringMatching(/^172\.\d+\.0\.0\/16$/), gateway: expect.stringMatching(/^172\.\d+\.0\.1$/) }]);
    expect(appnet.id).toMatch(/^[0-9a-f]{64}$/);
    expect(appnet).toMatchObject({ bridge: `br-${appnet.id.slice(0, 12)}`, isDefault: false, internal: false });
    const byName = new Map(inv.containers.map((c) => [c.name, c]));
    expect([...byName.keys()].sort()).toEqual(['alt', 'echo', 'hostnet', 'quiet', 'sidecar', 'web']);
    const web = byName.get('web')!;
    expect(web).toMatchObject({ id: webId, image: IMAGE, endpoints: [{ networkName: 'bridge', ipv4: await lab.containerIp('web') }] });
    expect(web.ports).toEqual(expect.arrayContaining([
      { protocol: 'tcp', containerPort: 443, hostIp: '0.0.0.0', hostPort: 443 },
      { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 },
    ]));
    expect(byName.get('echo')).toMatchObject({ endpoints: [{ networkName: 'appnet', networkId: appnet.id }], ports: [{ protocol: 'udp', containerPort: 5353, hostPort: 5353 }] });
    expect(byName.get('hostnet')).toMatchObject({ networkMode: 'host', ports: [] });
    expect(byName.get('sidecar')).toMatchObject({ networkMode: `container:${webId}`, ports: [] });

    const file = files.policy('inventory.json', printed.stdout);
    const [offline, live] = await Promise.all([dockward(lab, ['plan', '--inventory', file]), dockward(lab, ['plan'])]);
    expect(live.exitCode).toBe(0);
    expect(live.stdout).not.toContain('in sync');
    expect(restoreText(offline.stdout)).toBe(restoreText(live.stdout));
    for (const c of [byName.get('hostnet')!, byName.get('sidecar')!]) {
      for (const name of chainsOf(c.id)) expect(live.stdout).not.toContain(name);
    }
    expect(live.stdout).toContain(containerChain(webId));
  });

  it('plan against live rules after apply: in sync, nothing to load, and iptables-save unchanged; host and container: modes break nothing', async () => {
    await applyPolicy();
    const before = await liveRules(lab);
    const planned = await dockward(lab, ['plan']);
    expect(planned.exitCode).toBe(0);
    expect(planned.stdout).toMatch(/^# ipv4 \(backend nft\): in sync, nothing to load$/m);
    expect(planned.stdout).toMatch(/^# ipv6 \(backend nft\): in sync, nothing to load$/m);
    expect(restoreText(planned.stdout).trim()).toBe('');
    expect(await liveRules(lab)).toBe(before);
    // The container sharing web's network namespace leaves web published (positive control).
    expect(await lab.http('external', `http://${EXT}:8080/`)).toBe('web');
  });

  it('a. built-in default: every published TCP and UDP port answers from both links, unpublished ones do not', async () => {
    expect(existsSync('/etc/dockward/policy.yaml'), 'the built-in default needs no file at the default path').toBe(false);
    await applyPolicy();
    const expected = { p443: 'web', p8080: 'web', p10443: 'alt', udp: 'echo:ping', unpublished: null, served: null };
    expect(await reach('external', EXT)).toEqual(expected);
    expect(await reach('internal', INT)).toEqual(expected);
    // Control: web does serve 9443 (the host reaches it straight at its address); it is only not published.
    expect(await lab.http('host', `http://${await lab.containerIp('web')}:9443/`)).toBe('web');
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
    expect(await reach('external', EXT)).toEqual({ p443: 'web', p8080: null, p10443: null, udp: null, unpublished: null, served: null });
    expect(await reach('internal', INT)).toEqual({ p443: 'web', p8080: 'web', p10443: 'alt', udp: 'echo:ping', unpublished: null, served: null });
  });

  it('b. containerPorts: [443/tcp] also admits the 10443:443 mapping', async () => {
    await applyPolicy(`version: 1
zones:
  external: { interfaces: [${LAB_ADDR.external.hostIf}] }
defaults: { published: deny }
rules:
  - { containerPorts: [443/tcp], from: [zone:external] }
`);
    expect(await reach('external', EXT)).toEqual({ p443: 'web', p8080: null, p10443: 'alt', udp: null, unpublished: null, served: null });
  });

  it('d. direct routed access to a container address answers without dockward, and is refused once it applies', async () => {
    const [web, quiet] = await Promise.all([lab.containerIp('web'), lab.containerIp('quiet')]);
    expect((await dockward(lab, ['flush'])).exitCode).toBe(0);
    const [bareWeb, bareQuiet] = await Promise.all([lab.http('external', `http://${web}:80/`), lab.http('internal', `http://${quiet}:80/`)]);
    expect(bareWeb, 'without dockward the client routes straight to the container').toBe('web');
    expect(bareQuiet).toBe('quiet');
    await applyPolicy();
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
      const lateId = await lab.runHttp('late', { network: 'appnet', publish: ['9090:80'] });
      const ms = await eventually(async () => (await lab.http('internal', `http://${INT}:9090/`)) === 'late', 2000);
      expect(ms).toBeLessThanOrEqual(2000);
      expect(await lab.http('external', `http://${EXT}:9090/`)).toBeNull();
      const ip = await lab.containerIp('late');
      const chains = chainsOf(lateId);
      expect(await liveBoth(), 'control: its chain is live while it runs').toContain(chains[0]);
      await lab.docker(['stop', 'late']);
      // Its own rules (every rule of its chains) and its DNAT: gone within 2 s.
      const own = (live: string) => live.split('\n').filter((l) => chains.some((c) => l.startsWith(`-A ${c} `)) || l.includes(`${ip}:80`));
      const goneMs = await eventually(async () => own(await liveBoth()).length === 0, 2000).catch(async (e: Error) => {
        throw new Error(`${e.message}; still live:\n${own(await liveBoth()).join('\n')}`);
      });
      expect(goneMs).toBeLessThanOrEqual(2000);
      // Its log line may reach us a moment after the rules left the kernel.
      const emptied = (r: { msg: string; [key: string]: unknown }) => r.msg === 'applied'
        && (r['reasons'] as string[]).some((reason) => reason.includes(lateId)) && (r['changes'] as string[]).some((c) => c.startsWith('flush-chain '));
      await daemon.waitForLog(emptied, 2000);
      expect(daemon.logs().filter(emptied).map((r) => r['through']), 'on nft, the stop emptied its chains in one nft transaction').toContain('nft');
      // The jumps into its emptied chains and the chains themselves go with the deferred cleanup,
      // about 2 s after the last event: then no live line mentions its chain names at all.
      const deletedMs = await eventually(async () => {
        const live = await liveBoth();
        return !chains.some((c) => live.includes(c));
      }, 6000);
      expect(await lab.http('internal', `http://${INT}:8080/`)).toBe('web');
      console.log(`late container reachable ${ms} ms after docker run returned; its rules gone ${goneMs} ms after docker stop returned, its chains deleted after ${goneMs + deletedMs} ms`);
      const status = JSON.parse((await dockward(lab, ['status', '--json', '--state-dir', files.dir])).stdout);
      expect(status).toMatchObject({ healthy: true, running: true, inSync: true, backend: 'nft', docker: { reachable: true } });
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    expect((await lab.inHost('iptables-save', [])).stdout, 'SIGTERM leaves the rules in force').toContain('DOCKWARD-FORWARD');
    expect(daemon.logs().filter((r) => r.msg.startsWith('stopped; rules stay in force, but are not kept up to date')), 'and warns that nothing follows Docker now').toHaveLength(1);
  });

  it('run re-applies on network disconnect and connect: the DNAT follows the container to its new address', async () => {
    await lab.docker(['network', 'create', 'side']);
    await lab.runHttp('mover', { network: 'side', publish: ['9191:80'] });
    const daemon = startDockward(lab, ['--policy', files.policy('move.yaml', INTERNAL_ONLY), '--state-dir', files.dir]);
    try {
      await daemon.waitForLog((r) => r.msg === 'applied');
      const oldIp = await lab.containerIp('mover', 'side');
      await eventually(async () => (await lab.http('internal', `http://${INT}:9191/`)) === 'mover', 2000);
      expect(await lab.http('external', `http://${EXT}:9191/`), 'refused from the external link').toBeNull();

      await lab.docker(['network', 'disconnect', 'side', 'mover']);
      await eventually(async () => !(await lab.inHost('iptables-save', [])).stdout.includes(`${oldIp}:80`), 2000);
      expect(await lab.http('internal', `http://${INT}:9191/`)).toBeNull();
      expect(await lab.http('internal', `http://${INT}:8080/`), 'control').toBe('web');

      await lab.docker(['network', 'connect', 'appnet', 'mover']);
      const newIp = await lab.containerIp('mover', 'appnet');
      expect(newIp).not.toBe(oldIp);
      // Only a re-apply points the DNAT at the new endpoint's address.
      const ms = await eventually(async () => (await lab.http('internal', `http://${INT}:9191/`)) === 'mover', 2000);
      expect((await lab.inHost('iptables-save', [])).stdout).toContain(`--to-destination ${newIp}:80`);
      expect(await lab.http('external', `http://${EXT}:9191/`), 'still refused from the external link').toBeNull();
      console.log(`after network connect, mover reachable at its new address within ${ms} ms`);
    } finally {
      expect(await daemon.stop()).toBe(0);
      await lab.docker(['rm', '-f', 'mover']);
    }
  });

  it('run --flush-on-exit removes its rules and its own ipsets on SIGTERM', async () => {
    // A zone with more sources than fit in rules becomes an ipset of dockward's own; the external link is among them.
    const many = ['198.51.100.0/24', ...Array.from({ length: 40 }, (_, i) => `10.200.${i}.0/24`)];
    const policy = files.policy('many.yaml', `version: 1\nzones:\n  many: { sources: [${many.join(', ')}] }\ndefaults: { published: deny }\nrules:\n  - { from: [zone:many] }\n`);
    const daemon = startDockward(lab, ['--policy', policy, '--state-dir', files.dir, '--flush-on-exit']);
    await eventually(async () => (await lab.http('external', `http://${EXT}:8080/`)) === 'web', 5000);
    const sets = async () => (await lab.inHost('ipset', ['list', '-n'])).stdout.split('\n').filter((n) => n.startsWith('DOCKWARD-'));
    expect(await sets(), 'the zone is an own set while it runs').toHaveLength(1);
    expect(await daemon.stop()).toBe(0);
    const rules = (await lab.inHost('iptables-save', [])).stdout;
    expect(rules).not.toContain('DOCKWARD');
    expect(rules).not.toContain('DW:');
    expect(await sets()).toEqual([]);
  });
});

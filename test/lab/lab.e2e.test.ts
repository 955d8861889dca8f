/**
 * The lab itself, with dockerd's own rules off and no firewall rule at all: containers
 * are reached by routing straight to their addresses (a published port is not reachable
 * through the host's address without DNAT), replies come from the container that was
 * meant, container traffic leaves unmasqueraded, and nothing is left behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, listNetns, startLab, sweepStaleLabs, type Lab } from '../../src/lab/index.js';

const PY_FETCH = 'import sys, time, urllib.request\n'
  + 'print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), flush=True)\n'
  + 'time.sleep(600)';

function labLeftovers(id: string, runDir: string): string[] {
  const left = listNetns().filter((n) => n.endsWith(`-${id}`));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(runDir));
  if (mounts.length) left.push(`${mounts.length} mounts`);
  if (existsSync(runDir)) left.push(runDir);
  if (existsSync(`/sys/fs/cgroup/pids/dwlab-${id}`) || existsSync(`/sys/fs/cgroup/dwlab-${id}`)) left.push('cgroup');
  return left;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

describe('lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    const t0 = Date.now();
    lab = await startLab();
    console.log(`startLab: ${Date.now() - t0} ms`);
    await Promise.all([
      lab.runHttp('web1', { publish: ['8080:80'], ports: [8081], restart: 'always' }),
      lab.runUdpEcho('udp1', { publish: ['5353:5353/udp'] }),
    ]);
  });

  afterAll(async () => {
    const t0 = Date.now();
    await lab?.stop();
    console.log(`lab.stop: ${Date.now() - t0} ms`);
  });

  it('runs dockerd with its own rules off: the host namespace has no rule at all', async () => {
    const saved = await lab.inHost('iptables-save', []);
    expect(saved.stdout).not.toMatch(/^-A /m);
    expect(await lab.docker(['version', '--format', '{{.Server.Version}}'])).toMatch(/^20\./);
    expect(await lab.inHost('sysctl', ['-n', 'net.ipv4.ip_forward'])).toMatchObject({ stdout: '1\n' });
  });

  it('reaches an HTTP container by its address from both clients, the host and another container', async () => {
    const ip = await lab.containerIp('web1');
    const [ext, ext2, int, host, port2, fromContainer] = await Promise.all([
      lab.http('external', `http://${ip}/`),
      lab.http('external', `http://${ip}/`, { source: LAB_ADDR.external.client2 }),
      lab.http('internal', `http://${ip}/`),
      lab.http('host', `http://${ip}/`),
      lab.http('external', `http://${ip}:8081/`),
      lab.http({ container: 'udp1' }, `http://${ip}/`),
    ]);
    expect({ ext, ext2, int, host, port2, fromContainer }).toEqual({
      ext: 'web1', ext2: 'web1', int: 'web1', host: 'web1', port2: 'web1', fromContainer: 'web1',
    });
  });

  it('does not count an idle port or dockerd\'s listener as reachable', async () => {
    const ip = await lab.containerIp('web1');
    const t0 = Date.now();
    const [closed, viaHostAddr, reset, silent, positive] = await Promise.all([
      lab.http('external', `http://${ip}:9/`),
      // No DNAT: the host address's port 8080 is dockerd's idle listener, never the container.
      lab.http('external', `http://${LAB_ADDR.external.host}:8080/`),
      lab.tcpReset('external', ip, 9),
      lab.tcpReset('external', '198.51.100.77', 80), // nobody owns it: no answer at all
      lab.tcpReset('external', ip, 80),
    ]);
    expect({ closed, viaHostAddr, reset, silent, positive }).toEqual({
      closed: null, viaHostAddr: null, reset: 'reset', silent: 'timeout', positive: 'connected',
    });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('gets a UDP echo from the container, and nothing from a closed port', async () => {
    const ip = await lab.containerIp('udp1');
    const [echo, closed] = await Promise.all([
      lab.udp('external', ip, 5353, { payload: 'hello' }),
      lab.udp('external', ip, 5354),
    ]);
    expect(echo).toBe('udp1:hello');
    expect(closed).toBeNull();
  });

  it('lets a container reach a server in a client namespace, with its own address (no masquerade)', async () => {
    const server = await lab.serveHttpInClient('external', 8000);
    await lab.runPlain('out1', { cmd: ['/usr/bin/python3', '-c', PY_FETCH, `http://${LAB_ADDR.external.client}:8000/out1`] });
    const seen = await server.waitForRequest((r) => r.path === '/out1');
    expect(seen.source).toBe(await lab.containerIp('out1'));
    expect(await lab.docker(['logs', 'out1'])).toBe(seen.source);
    // A source address of the client's choice, routed through the host namespace.
    const internal = await lab.serveHttpInClient('internal', 8001);
    const body = await lab.http('external', `http://${LAB_ADDR.internal.client}:8001/src`, {
      source: LAB_ADDR.external.client2,
    });
    expect(body).toBe(LAB_ADDR.external.client2);
    expect(internal.requests()).toEqual([{ source: LAB_ADDR.external.client2, path: '/src' }]);
  });

  it('restarts, pauses and resumes dockerd', async () => {
    const before = lab.dockerd.pid;
    const t0 = Date.now();
    await lab.dockerd.restart();
    console.log(`dockerd restart with two containers: ${Date.now() - t0} ms`);
    expect(lab.dockerd.pid).not.toBe(before);
    expect(await lab.docker(['image', 'ls', '-q', 'dwlab/busybox:1'])).not.toBe('');
    // web1 has restart=always and comes back; positive control for the pause below.
    await expect.poll(async () => lab.http('host', `http://${await lab.containerIp('web1')}/`), { timeout: 10_000 })
      .toBe('web1');
    lab.dockerd.pause();
    await expect(execa('/usr/bin/docker', ['-H', lab.dockerHost, 'version'], { timeout: 1000 })).rejects.toThrow();
    lab.dockerd.resume();
    expect(await lab.docker(['version', '--format', '{{.Server.Version}}'])).toMatch(/^20\./);
  });

  it('leaves nothing behind after stop(), and stop() can be called twice', async () => {
    const t0 = Date.now();
    const other = await startLab({ sweep: false });
    const startMs = Date.now() - t0;
    await other.runHttp('c1');
    const pid = other.dockerd.pid;
    expect(alive(pid)).toBe(true);
    const t1 = Date.now();
    await other.stop();
    console.log(`second lab: start ${startMs} ms, stop with one container ${Date.now() - t1} ms`);
    await other.stop();
    expect(alive(pid)).toBe(false);
    expect(labLeftovers(other.id, other.runDir)).toEqual([]);
  });

  it('sweeps what a killed test process left behind', async () => {
    const viteNode = new URL('../../node_modules/.bin/vite-node', import.meta.url).pathname;
    const fixture = new URL('fixtures/abandoned-lab.ts', import.meta.url).pathname;
    const child = execa(viteNode, [fixture], {
      buffer: false,
      stdin: 'ignore',
      stderr: 'inherit',
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.catch(reject);
    });
    const left = JSON.parse(line) as { id: string; pid: number; runDir: string };
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    expect(alive(left.pid)).toBe(true);
    expect(labLeftovers(left.id, left.runDir).length).toBeGreaterThan(0);

    // (Another test process starting a lab meanwhile may sweep it first: check the effect.)
    sweepStaleLabs();
    expect(alive(left.pid)).toBe(false);
    expect(labLeftovers(left.id, left.runDir)).toEqual([]);
    // The live lab of this process was left alone.
    expect(await lab.http('host', `http://${await lab.containerIp('web1')}/`)).toBe('web1');
  });
});

describe('lab variants', () => {
  it('gives containers IPv6 with --ipv6, reachable from a client over IPv6', async () => {
    const lab = await startLab({ dockerdArgs: ['--ipv6', '--fixed-cidr-v6', 'fd00:d0c::/64'] });
    try {
      await Promise.all([lab.runHttp('web6'), lab.runUdpEcho('udp6')]);
      const [web6, udp6] = await Promise.all([
        lab.containerIp('web6', 'bridge', 'ipv6'),
        lab.containerIp('udp6', undefined, 'ipv6'),
      ]);
      expect(web6).toMatch(/^fd00:d0c::/);
      const [body, echo] = await Promise.all([
        lab.http('external', `http://[${web6}]/`, { source: LAB_ADDR.external.client6 }),
        lab.udp('internal', udp6, 5353, { payload: 'v6' }),
      ]);
      expect({ body, echo }).toEqual({ body: 'web6', echo: 'udp6:v6' });
    } finally {
      await lab.stop();
    }
  });

  it('runs dockerd with its own rules on, inside the host namespace only', async () => {
    const rootBefore = (await execa('iptables-save')).stdout.replace(/^#.*\n/gm, '');
    const lab = await startLab({ dockerdArgs: ['--iptables=true'], ipForward: false });
    try {
      await lab.runHttp('native1', { publish: ['8080:80'] });
      const saved = (await lab.inHost('iptables-save', [])).stdout;
      expect(saved).toMatch(/^:FORWARD DROP/m);
      expect(saved).toMatch(/-A DOCKER .*--dport 80 -j ACCEPT|-A DOCKER -d \S+ .*-j DNAT --to-destination \S+:80/);
      // Docker's own DNAT makes the published port answer through the host address.
      expect(await lab.http('external', `http://${LAB_ADDR.external.host}:8080/`)).toBe('native1');
    } finally {
      await lab.stop();
    }
    const rootAfter = (await execa('iptables-save')).stdout.replace(/^#.*\n/gm, '');
    expect(rootAfter).toBe(rootBefore);
  });
});

describe('npm run lab', () => {
  it('prints a dockward run and a traffic command that work as printed, and Ctrl-C removes everything it made', async () => {
    const shell = execa(process.execPath, [new URL('../../dist/lab/shell.js', import.meta.url).pathname], { reject: false, buffer: false });
    let printed = '';
    const shown = new Promise<void>((resolve) => {
      shell.stdout!.on('data', (d: Buffer) => {
        printed += d.toString();
        if (printed.includes('Ctrl-C here')) resolve();
      });
    });
    let run: ReturnType<typeof execa> | undefined;
    try {
      await Promise.race([shown, shell.then(() => { throw new Error(`lab shell ended early:\n${printed}`); })]);
      const id = /lab (\w+) is up/.exec(printed)?.[1] ?? '';
      const line = (needle: string) => printed.split('\n').find((l) => l.includes(needle))?.trim() ?? '';
      const internet = line(`http://${LAB_ADDR.external.host}:443/`);
      expect(id).not.toBe('');
      expect((await execa('sh', ['-c', internet], { reject: false })).stdout, 'nothing published before dockward runs').toBe('');
      run = execa('sh', ['-c', `exec ${line(' run --policy ')}`], { reject: false });
      let answer = '';
      for (const deadline = Date.now() + 20_000; answer !== 'web' && Date.now() < deadline;) {
        answer = (await execa('sh', ['-c', internet], { reject: false })).stdout;
        if (answer !== 'web') await new Promise((r) => setTimeout(r, 200));
      }
      expect(answer, 'the internet client reaches web:443 under examples/policy.yaml').toBe('web');
      run.kill('SIGTERM');
      await run;
      shell.kill('SIGINT');
      await shell;
      expect(listNetns().filter((n) => n.endsWith(`-${id}`))).toEqual([]);
    } finally {
      run?.kill('SIGKILL');
      shell.kill('SIGINT');
      await shell;
    }
  });
});

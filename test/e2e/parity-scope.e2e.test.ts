/**
 * What Docker's own rules do, done by dockward (issue 5's scope), with real traffic:
 * IPv6, host-address and loopback publications, hairpin paths, ranges, network options,
 * containers on two networks, UDP flows across a container restart, DOCKER-USER and
 * taking over from Docker's own rules. Every refusal has a positive control.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { PYTHON, sctpProbe } from '../../src/lab/probes.js';
import { dockward, eventually, liveRules, scratch, startDockward, tableLines, type RunningDockward } from './dockward.js';

const { external: E, internal: I } = LAB_ADDR;
let lab: Lab;
let running: RunningDockward;
const files = scratch();

const applied = async () => (await dockward(lab, ['status', '--state-dir', files.dir])).exitCode === 0;

beforeAll(async () => {
  lab = await startLab({ dockerdArgs: ['--ipv6', '--fixed-cidr-v6', 'fd00:d0c::/64'] });
  await lab.docker(['network', 'create', '--ipv6', '--subnet', '172.30.0.0/16', '--subnet', 'fd00:a::/64', 'dual']);
  await lab.docker(['network', 'create', 'other']);
  await lab.docker(['network', 'create', '--internal', 'sealed']);
  await lab.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc']);
  await lab.docker(['network', 'create', '-o', 'com.docker.network.bridge.name=dwcustom', 'custom']);
  await lab.docker(['network', 'create', '-o', `com.docker.network.bridge.host_binding_ipv4=${I.host}`, 'bound']);
  await Promise.all([
    lab.runHttp('web6', { network: 'dual', publish: ['8080:80'] }),
    lab.runHttp('v4only', { network: 'other', publish: ['8081:80'] }),
    lab.runHttp('local', { network: 'other', publish: ['127.0.0.1:8082:80'] }),
    lab.runHttp('oneaddr', { network: 'other', publish: [`${E.host}:8083:80`] }),
    lab.runHttp('ranged', { network: 'other', ports: [9000, 9001, 9002, 9003, 9004, 9005, 9006, 9007, 9008, 9009, 9010], publish: ['9000-9010:9000-9010'] }),
    lab.runHttp('inner', { network: 'sealed' }),
    lab.runHttp('iso1', { network: 'noicc' }),
    lab.runHttp('iso2', { network: 'noicc' }),
    lab.runHttp('named', { network: 'custom', publish: ['8084:80'] }),
    lab.runUdpEcho('echo', { network: 'other', publish: ['5353:5353/udp'] }),
    lab.runHttp('boundweb', { network: 'bound', publish: ['8087:80'] }),
    lab.runHttp('spread', { network: 'other', publish: ['9100-9110:80'] }),
    lab.runHttp('v6addr', { network: 'dual', publish: [`[${E.host6}]:8086:80`] }),
  ]);
  running = startDockward(lab, ['--state-dir', files.dir]);
  await eventually(applied, 10_000);
}, 180_000);

afterAll(async () => {
  if (running) expect(await running.stop()).toBe(0);
  await lab?.stop();
  files.cleanup();
});

describe('IPv6', () => {
  it('publishes on IPv6 for a container with an IPv6 address, never for an IPv4-only one', async () => {
    const [v6, v4, v6ofV4only] = await Promise.all([
      lab.http('external', `http://[${E.host6}]:8080/`),
      lab.http('external', `http://${E.host}:8080/`),
      lab.http('external', `http://[${E.host6}]:8081/`),
    ]);
    expect(v6).toBe('web6');
    expect(v4).toBe('web6');
    expect(v6ofV4only).toBeNull();
    expect(await lab.http('external', `http://${E.host}:8081/`)).toBe('v4only');
  });

  it('refuses direct routed IPv6 access to a container address, while its published port answers', async () => {
    const ip6 = await lab.containerIp('web6', 'dual', 'ipv6');
    expect(await lab.http('external', `http://[${ip6}]:80/`)).toBeNull();
    expect(await lab.http('external', `http://[${E.host6}]:8080/`)).toBe('web6');
  });

  it('a port published on one IPv6 host address answers there only', async () => {
    const [there, otherLink, v4] = await Promise.all([
      lab.http('external', `http://[${E.host6}]:8086/`),
      lab.http('internal', `http://[${I.host6}]:8086/`),
      lab.http('external', `http://${E.host}:8086/`),
    ]);
    expect(there).toBe('v6addr');
    expect(otherLink).toBeNull();
    expect(v4).toBeNull();
  });

  it('a link-local source is never translated and is refused outright, not left to dockerd\'s listener', async () => {
    const linkLocal = (await lab.exec('external', 'ip', ['-6', '-o', 'addr', 'show', 'dev', LAB_ADDR.clientIf, 'scope', 'link'])).stdout
      .match(/inet6 (fe80::[0-9a-f:]+)\//)?.[1];
    expect(linkLocal, 'the client has a link-local address').toBeDefined();
    const [fromLinkLocal, control] = await Promise.all([
      lab.tcpReset('external', E.host6, 8080, { source: `${linkLocal}%${LAB_ADDR.clientIf}` }),
      lab.http('external', `http://[${E.host6}]:8080/`, { source: E.client6 }),
    ]);
    // 'connected' would be dockerd's idle socket on the published port: an un-DNATed packet let in.
    expect(fromLinkLocal).not.toBe('connected');
    expect(control).toBe('web6');
    expect(tableLines((await lab.inHost('ip6tables-save', [])).stdout, 'nat').join('\n')).toMatch(/-s fe80::\/10 .*-j RETURN/);
  });

  it('masquerades IPv6 traffic leaving a container subnet', async () => {
    const server = await lab.serveHttpInClient('external', 8000);
    try {
      expect(await lab.http({ container: 'web6' }, `http://[${E.client6}]:8000/`)).not.toBeNull();
      expect(server.requests().map((r) => r.source)).toEqual([E.host6]);
    } finally {
      await server.stop();
    }
  });
});

describe('host addresses and loopback', () => {
  it('a port published on one host address answers there only', async () => {
    const [there, elsewhere] = await Promise.all([
      lab.http('external', `http://${E.host}:8083/`),
      lab.http('internal', `http://${I.host}:8083/`),
    ]);
    expect(there).toBe('oneaddr');
    expect(elsewhere).toBeNull();
  });

  it('a port published on 127.0.0.1 answers the host itself, on 127.0.0.1 only', async () => {
    const [local, viaLink] = await Promise.all([
      lab.http('host', 'http://127.0.0.1:8082/'),
      lab.http('host', `http://${E.host}:8082/`),
    ]);
    expect(local).toBe('local');
    expect(viaLink).toBeNull();
  });

  it('a packet from a neighbour addressed to 127.0.0.1 is dropped, though it does reach the host', async () => {
    // Make the client kernel send to 127.0.0.1 through the host (client namespace only): drop its
    // local loopback routes, route 127.0.0.1 via the host, allow loopback addresses on the wire.
    await lab.exec('external', 'sysctl', ['-qw', 'net.ipv4.conf.all.route_localnet=1', 'net.ipv4.conf.eth0.route_localnet=1']);
    await lab.exec('external', 'ip', ['route', 'del', 'local', '127.0.0.1', 'table', 'local'], { reject: false });
    await lab.exec('external', 'ip', ['route', 'del', 'local', '127.0.0.0/8', 'table', 'local'], { reject: false });
    await lab.exec('external', 'ip', ['route', 'add', '127.0.0.1/32', 'via', E.host, 'dev', 'eth0', 'src', E.client]);
    await lab.inHost('iptables', ['-t', 'raw', '-I', 'PREROUTING', '1', '-i', 'ext0', '-d', '127.0.0.1', '-p', 'tcp', '--dport', '8082', '-m', 'comment', '--comment', 'test-probe-counter']);
    try {
      expect(await lab.http('external', 'http://127.0.0.1:8082/', { source: E.client })).toBeNull();
      // By its comment, not its position: dockward's read-back may have put its hook back on top since.
      const listing = (await lab.inHost('iptables', ['-t', 'raw', '-L', 'PREROUTING', '-v', '-x', '-n'])).stdout;
      const counter = listing.split('\n').find((l) => l.includes('test-probe-counter'));
      expect(counter, `the counting rule is in raw PREROUTING: ${listing}`).toBeDefined();
      expect(Number(counter!.trim().split(/\s+/)[0]), `the crafted packet arrived at the host: ${counter}`).toBeGreaterThan(0);
      expect(await lab.http('host', 'http://127.0.0.1:8082/')).toBe('local');
    } finally {
      await lab.inHost('iptables', ['-t', 'raw', '-D', 'PREROUTING', '-i', 'ext0', '-d', '127.0.0.1', '-p', 'tcp', '--dport', '8082', '-m', 'comment', '--comment', 'test-probe-counter']);
    }
  });

  it('a network\'s host_binding_ipv4 is where its ports published without an address answer', async () => {
    const [there, elsewhere] = await Promise.all([
      lab.http('internal', `http://${I.host}:8087/`),
      lab.http('external', `http://${E.host}:8087/`),
    ]);
    expect(there).toBe('boundweb');
    expect(elsewhere).toBeNull();
  });

  it('sets route_localnet on Docker bridges only, never globally', async () => {
    const read = (path: string) => lab.inHost('cat', [path]).then((r) => r.stdout.trim());
    expect(await read('/proc/sys/net/ipv4/conf/docker0/route_localnet')).toBe('1');
    expect(await read('/proc/sys/net/ipv4/conf/all/route_localnet')).toBe('0');
    expect(await read('/proc/sys/net/ipv4/conf/ext0/route_localnet')).toBe('0');
  });
});

describe('hairpin', () => {
  it('the host reaches published ports on its own addresses', async () => {
    const answers = await Promise.all([E.host, I.host].map((h) => lab.http('host', `http://${h}:8081/`)));
    expect(answers).toEqual(['v4only', 'v4only']);
  });

  it('a container reaches a published port of its own network and of another network through a host address', async () => {
    const [own, self, other] = await Promise.all([
      lab.http({ container: 'local' }, `http://${I.host}:8081/`),
      lab.http({ container: 'v4only' }, `http://${I.host}:8081/`),
      lab.http({ container: 'web6' }, `http://${I.host}:8081/`),
    ]);
    expect([own, self, other]).toEqual(['v4only', 'v4only', 'v4only']);
  });
});

describe('ports and networks', () => {
  it('a range of 11 published ports all answer', async () => {
    const answers = await Promise.all(Array.from({ length: 11 }, (_, i) => lab.http('external', `http://${E.host}:${9000 + i}/`)));
    expect(answers).toEqual(Array(11).fill('ranged'));
  });

  it('a host port range onto one container port publishes the one port Docker chose from it, as Docker does', async () => {
    // Docker allocates a single host port from the range (docker port shows which).
    const chosen = Number((await lab.docker(['port', 'spread', '80/tcp'])).split('\n')[0]!.split(':').pop());
    expect(chosen).toBeGreaterThanOrEqual(9100);
    expect(chosen).toBeLessThanOrEqual(9110);
    const others = Array.from({ length: 11 }, (_, i) => 9100 + i).filter((p) => p !== chosen);
    const [answer, ...rest] = await Promise.all([chosen, ...others].map((p) => lab.http('external', `http://${E.host}:${p}/`)));
    expect(answer).toBe('spread');
    expect(rest).toEqual(Array(10).fill(null));
  });

  it('an internal network reaches nothing outside it and is reached by nothing', async () => {
    const ip = await lab.containerIp('inner');
    const server = await lab.serveHttpInClient('external', 8001);
    try {
      const [out, into, control] = await Promise.all([
        lab.http({ container: 'inner' }, `http://${E.client}:8001/`),
        lab.http('external', `http://${ip}:80/`),
        lab.http({ container: 'v4only' }, `http://${E.client}:8001/`),
      ]);
      expect(out).toBeNull();
      expect(into).toBeNull();
      expect(control).not.toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('containers of a network with ICC off do not reach each other; other networks are isolated too', async () => {
    const [iso2, inner] = await Promise.all([lab.containerIp('iso2'), lab.containerIp('v4only')]);
    const [icc, cross, control] = await Promise.all([
      lab.http({ container: 'iso1' }, `http://${iso2}:80/`),
      lab.http({ container: 'web6' }, `http://${inner}:80/`),
      lab.http({ container: 'iso2' }, `http://${iso2}:80/`),
    ]);
    expect(icc).toBeNull();
    expect(cross).toBeNull();
    expect(control).toBe('iso2');
  });

  it('a network with a custom bridge name is published like any other', async () => {
    expect(await lab.http('external', `http://${E.host}:8084/`)).toBe('named');
    expect(await liveRules(lab)).toContain('-o dwcustom');
  });

  it('a container that joins a second network stays reachable on its published port', async () => {
    await lab.docker(['network', 'connect', 'dual', 'v4only']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await lab.http('external', `http://${E.host}:8081/`)).toBe('v4only');
    await lab.docker(['network', 'disconnect', 'dual', 'v4only']);
  });

  it('a UDP client that was talking before a container restart reaches the new container', async () => {
    // One source port throughout: the same conntrack flow before and after, as a real client's.
    const ask = (payload: string) => lab.udp('external', E.host, 5353, { payload, source: E.client, sourcePort: 40053 });
    expect(await ask('before')).toBe('echo:before');
    await lab.docker(['rm', '-f', 'echo']);
    // The client keeps sending while no container serves the port: its flow is now recorded
    // as going to the host itself (dockerd clears flows of the old container's address, not these).
    expect(await ask('during')).toBeNull();
    await lab.runUdpEcho('echo', { network: 'dual', publish: ['5353:5353/udp'] });
    await eventually(async () => (await ask('after')) === 'echo:after', 5000, 200);
  });
});

describe('DOCKER-USER', () => {
  it('is jumped to first in FORWARD and its rules decide before dockward', async () => {
    await lab.inHost('iptables', ['-A', 'DOCKER-USER', '-s', E.client2, '-j', 'DROP']);
    try {
      const [blocked, control] = await Promise.all([
        lab.http('external', `http://${E.host}:8081/`, { source: E.client2 }),
        lab.http('external', `http://${E.host}:8081/`, { source: E.client }),
      ]);
      expect(blocked).toBeNull();
      expect(control).toBe('v4only');
      const forward = tableLines(await liveRules(lab), 'filter').filter((l) => l.startsWith('-A FORWARD'));
      expect(forward[0]).toContain('-j DOCKER-USER');
      expect(forward[1]).toContain('-j DOCKWARD-FORWARD');
    } finally {
      await lab.inHost('iptables', ['-D', 'DOCKER-USER', '-s', E.client2, '-j', 'DROP']);
    }
  });
});

/** Says the container's name to each association, then closes it. */
const SCTP_SERVER = `
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 3868))
s.listen(8)
while True:
    c, _ = s.accept()
    c.send(os.environ["DWLAB_NAME"].encode())
    c.close()
`;

describe('SCTP', () => {
  it('is published where the kernel has SCTP', async (ctx) => {
    const sctp = await lab.inHost('test', ['-d', '/proc/sys/net/sctp'], { reject: false });
    if (sctp.exitCode !== 0) {
      console.log('SCTP end to end skipped: this kernel has no SCTP protocol (/proc/sys/net/sctp is absent). '
        + 'SCTP rules are covered by test/iptables/sctp.test.ts (loaded with real iptables-restore in a namespace, '
        + 'and refused by it without the sctp extension) and by the golden case 10-sctp-ipv6.');
      ctx.skip();
    }
    await lab.runPlain('sctpd', { network: 'other', publish: ['3868:3868/sctp'], cmd: [PYTHON, '-u', '-c', SCTP_SERVER] });
    try {
      const ip = await lab.containerIp('sctpd');
      const from = (cmd: string, args: readonly string[], opts?: object) => lab.exec('external', cmd, args, opts);
      await eventually(async () => (await sctpProbe(from, E.host, 3868)) === 'sctpd', 10_000, 200);
      expect(await sctpProbe(from, ip, 3868), 'direct routed SCTP to the container address is refused').toBeNull();
      expect(await sctpProbe(from, E.host, 3868)).toBe('sctpd');
    } finally {
      await lab.docker(['rm', '-f', 'sctpd']);
    }
  });
});

describe('one family failing', () => {
  it('leaves the other applied and working, and reports the failure in status and the log', async () => {
    const other = await startLab({ dockerdArgs: ['--ipv6', '--fixed-cidr-v6', 'fd00:d0e::/64'] });
    const bin = await mkdtemp(join(tmpdir(), 'dw-ip6fail-'));
    const state = scratch();
    let daemon: RunningDockward | undefined;
    try {
      await other.runHttp('both', { publish: ['8080:80'] });
      // Only ip6tables' restore fails; iptables-nft-restore and every save are the real ones.
      await writeFile(join(bin, 'ip6tables-nft-restore'), '#!/bin/sh\ncat >/dev/null\necho "ip6tables-restore: injected failure" >&2\nexit 1\n');
      await chmod(join(bin, 'ip6tables-nft-restore'), 0o755);
      daemon = startDockward(other, ['--state-dir', state.dir, '--backend', 'nft'], { PATH: `${bin}:${process.env['PATH']}` });
      await eventually(async () => (await other.http('external', `http://${E.host}:8080/`)) === 'both', 10_000);
      await daemon.waitForLog((r) => r.msg === 'apply failed (ipv6), previous rules kept');
      expect((await other.inHost('iptables-save', [])).stdout).toContain('-j DNAT --to-destination 172.17.0.2:80');
      expect((await other.inHost('ip6tables-save', [])).stdout, 'nothing was loaded for IPv6').not.toContain('DOCKWARD');
      const status = await dockward(other, ['status', '--state-dir', state.dir]);
      expect(status.exitCode).toBe(1);
      expect(status.stdout).toMatch(/ipv6: ip6tables-restore failed/);
      expect(status.stdout).not.toMatch(/ipv4: iptables-restore failed/);
    } finally {
      if (daemon) await daemon.stop();
      await other.stop();
      await rm(bin, { recursive: true, force: true });
      state.cleanup();
    }
  });
});

describe('taking over from Docker\'s own rules', () => {
  it('removes what Docker wrote when its rules were on, keeps DOCKER-USER and its rules, and publishes through dockward', async () => {
    const old = await startLab({ ipForward: false, dockerdArgs: ['--iptables=true'] });
    try {
      await old.runHttp('legacy', { publish: ['8080:80'], restart: 'always' });
      await old.inHost('iptables', ['-I', 'DOCKER-USER', '-s', E.client2, '-j', 'DROP']);
      expect(await liveRules(old)).toContain(':DOCKER-ISOLATION-STAGE-1');
      await old.dockerd.restart({ args: [] });
      await eventually(async () => (await old.docker(['ps', '-q'])).trim() !== '', 10_000);
      const before = await liveRules(old);
      expect(before, 'dockerd with its rules off leaves its old chains behind').toContain(':DOCKER - ');
      const result = await dockward(old, ['apply']);
      expect(result.exitCode).toBe(0);
      const after = await liveRules(old);
      expect(after).not.toMatch(/^:DOCKER(-ISOLATION-STAGE-[12])? /m);
      expect(after).not.toMatch(/-j DOCKER$/m);
      expect(after).toContain(`-A DOCKER-USER -s ${E.client2}/32 -j DROP`);
      const [allowed, userDropped] = await Promise.all([
        old.http('external', `http://${E.host}:8080/`, { source: E.client }),
        old.http('external', `http://${E.host}:8080/`, { source: E.client2 }),
      ]);
      expect(allowed).toBe('legacy');
      expect(userDropped).toBeNull();
    } finally {
      await old.stop();
    }
  });
});

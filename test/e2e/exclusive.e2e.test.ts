/**
 * Exclusive host mode with real traffic: dockward owns the host's whole ruleset. An
 * SSH-like port answers only from the internal link, the host's other services are
 * refused, loopback and published containers keep working, and a foreign INPUT rule that
 * was there before is gone. Refusals hold with filter or mangle wiped alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { PYTHON } from '../../src/lab/probes.js';
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

/** One ICMP echo request over a raw socket (the lab has no ping binary): exit 0 when the echo reply comes within 1 s. */
const PING = `
import os, socket, struct, sys, time
def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
ident, target = os.getpid() & 0xffff, sys.argv[1]
body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"dockward"
packet = struct.pack("!BBHHH", 8, 0, checksum(body), ident, 1) + b"dockward"
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1)
s.sendto(packet, (target, 0))
end = time.time() + 1
while time.time() < end:
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        break
    head = (data[0] & 15) * 4
    kind, _, _, got, _ = struct.unpack("!BBHHH", data[head:head + 8])
    if kind == 0 and got == ident and addr[0] == target:
        sys.exit(0)
sys.exit(1)
`;

async function pings(from: 'external' | 'internal', address: string): Promise<boolean> {
  return (await lab.exec(from, PYTHON, ['-c', PING, address], { reject: false })).exitCode === 0;
}

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

  it('with host.default deny, a ping from the external link is answered (essential ICMP) while a TCP port is refused', async () => {
    expect((await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)])).exitCode).toBe(0);
    const [ping, tcp, ssh] = await Promise.all([
      pings('external', EXT),
      lab.tcpReset('external', EXT, 8005),
      lab.http('internal', `http://${INT}:2222/`),
    ]);
    expect({ ping, tcp, ssh: ssh !== null }).toEqual({ ping: true, tcp: 'timeout', ssh: true });
  });

  for (const table of ['mangle', 'filter']) {
    it(`keeps the host closed with ${table} wiped`, async () => {
      expect((await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)])).exitCode).toBe(0);
      await lab.inHost('iptables', ['-t', table, '-F']);
      expect(reached(await observed()).slice(0, 5)).toEqual([true, false, false, false, true]);
    });
  }
});

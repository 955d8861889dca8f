/**
 * Stale UDP flows after a binding is added or moves to another container: which conntrack
 * entries are deleted (those of the binding's host port that do not lead to its new
 * target), and how (one `conntrack -D` per source and host port, never `conntrack -F`).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BindingAccess } from '../../../src/compile/index.js';
import type { Conntrack, Flow } from '../../../src/dataplane/conntrack.js';
import { flushStaleUdp, movedUdpBindings, revokeFlows } from '../../../src/daemon/revoke.js';

const execa = vi.hoisted(() => vi.fn(async () => ({ stdout: '', exitCode: 0 })));
vi.mock('execa', () => ({ execa }));
const { systemConntrack } = await import('../../../src/dataplane/conntrack.js');

function binding(overrides: Partial<BindingAccess> = {}): BindingAccess {
  return {
    key: 'ipv4/udp/*/5353', family: 'ipv4', protocol: 'udp', hostPort: 5353, target: '172.18.0.3:5353',
    lines: [{ action: 'allow' }], ...overrides,
  };
}

function recording(flows: Flow[]) {
  const listed: [string, string, number][] = [];
  const removed: Flow[] = [];
  const conntrack: Conntrack = {
    list: async (family, protocol, dport) => {
      listed.push([family, protocol, dport]);
      return flows.filter((f) => f.dport === dport);
    },
    remove: async (_family, flow) => { removed.push(flow); },
  };
  return { conntrack, listed, removed };
}

describe('stale UDP flows', () => {
  const toOld: Flow = { protocol: 'udp', src: '198.51.100.2', dst: '198.51.100.1', dport: 5353, replySrc: '172.17.0.2' };
  const toDockerd: Flow = { protocol: 'udp', src: '198.51.100.3', dst: '198.51.100.1', dport: 5353, replySrc: '198.51.100.1' };
  const toNew: Flow = { protocol: 'udp', src: '203.0.113.2', dst: '203.0.113.1', dport: 5353, replySrc: '172.18.0.3' };
  const otherPort: Flow = { protocol: 'udp', src: '198.51.100.2', dst: '198.51.100.1', dport: 5354, replySrc: '172.17.0.2' };

  it('deletes the flows of the host port that lead elsewhere (an old container, dockerd\'s socket), keeps those already at the new target', async () => {
    const { conntrack, listed, removed } = recording([toOld, toDockerd, toNew, otherPort]);
    expect(await flushStaleUdp(conntrack, [binding()])).toEqual([toOld, toDockerd]);
    expect(listed, 'asked by host port, UDP only').toEqual([['ipv4', 'udp', 5353]]);
    expect(removed).toEqual([toOld, toDockerd]);
  });

  it('for a binding on one host address, leaves flows to other host addresses alone', async () => {
    const { conntrack, removed } = recording([toOld, toNew]);
    await flushStaleUdp(conntrack, [binding({ hostIp: '203.0.113.1', target: '172.18.0.9:5353' })]);
    expect(removed).toEqual([toNew]);
  });

  it('reads an IPv6 target without its brackets', async () => {
    const stale: Flow = { protocol: 'udp', src: '2001:db8:1::2', dst: '2001:db8:1::1', dport: 5353, replySrc: 'fd00:a::2' };
    const current: Flow = { ...stale, src: '2001:db8:1::3', replySrc: 'fd00:a::3' };
    const { conntrack, removed } = recording([stale, current]);
    await flushStaleUdp(conntrack, [binding({ family: 'ipv6', target: '[fd00:a::3]:5353' })]);
    expect(removed).toEqual([stale]);
  });

  it('only new UDP bindings and UDP bindings that now lead elsewhere are flushed', () => {
    const previous = new Map([['ipv4/udp/*/5353', '172.17.0.2:5353'], ['ipv4/udp/*/53', '172.17.0.4:53'], ['ipv4/tcp/*/80', '172.17.0.5:80']]
      .map(([key, target]) => [key!, { target: target! }]));
    const moved = binding();
    const fresh = binding({ key: 'ipv4/udp/*/6000', hostPort: 6000, target: '172.17.0.6:6000' });
    const same = binding({ key: 'ipv4/udp/*/53', hostPort: 53, target: '172.17.0.4:53' });
    const tcpMoved = binding({ key: 'ipv4/tcp/*/80', protocol: 'tcp', hostPort: 80, target: '172.17.0.7:80' });
    expect(movedUdpBindings(previous, [moved, fresh, same, tcpMoved])).toEqual([moved, fresh]);
  });
});

describe('the conntrack seam', () => {
  beforeEach(() => execa.mockClear());

  it('deletes one flow by protocol, source, host address and port, never the whole table', async () => {
    await systemConntrack().remove('ipv4', { protocol: 'udp', src: '198.51.100.2', dst: '198.51.100.1', dport: 5353 });
    expect(execa).toHaveBeenCalledTimes(1);
    const [cmd, args] = execa.mock.calls[0] as unknown as [string, string[]];
    expect(cmd).toBe('conntrack');
    expect(args).toEqual(['-D', '-f', 'ipv4', '-p', 'udp', '-s', '198.51.100.2', '-d', '198.51.100.1', '--dport', '5353']);
    expect(args).not.toContain('-F');
  });

  it('lists the flows of one protocol and host port', async () => {
    execa.mockResolvedValueOnce({
      exitCode: 0,
      stdout: 'udp      17 29 src=198.51.100.2 dst=198.51.100.1 sport=40053 dport=5353 src=172.17.0.2 dst=198.51.100.2 sport=5353 dport=40053 mark=0 use=1',
    });
    const flows = await systemConntrack().list('ipv4', 'udp', 5353);
    const [, args] = execa.mock.calls[0] as unknown as [string, string[]];
    expect(args).toEqual(['-L', '-f', 'ipv4', '-p', 'udp', '--dport', '5353']);
    expect(flows).toEqual([{ protocol: 'udp', src: '198.51.100.2', dst: '198.51.100.1', dport: 5353, replySrc: '172.17.0.2' }]);
  });
});

describe('revoking open flows', () => {
  it('deletes a refused source\'s flows with one conntrack -D per source and host port, however many it has open', async () => {
    const refused = Array.from({ length: 1000 }, (_, i): Flow => ({ protocol: 'tcp', src: '198.51.100.2', dst: '198.51.100.1', dport: 8080, replySrc: `172.17.0.${2 + (i % 2)}` }));
    const allowed: Flow = { protocol: 'tcp', src: '203.0.113.2', dst: '203.0.113.1', dport: 8080, replySrc: '172.17.0.2' };
    const { conntrack, removed } = recording([...refused, allowed]);
    const access = binding({ key: 'ipv4/tcp/*/8080', protocol: 'tcp', hostPort: 8080, target: '172.17.0.2:80', lines: [{ action: 'allow', cidr: '203.0.113.0/24' }, { action: 'deny' }] });
    const revoked = await revokeFlows(conntrack, [access]);
    expect(revoked).toHaveLength(1000);
    expect(revoked).not.toContainEqual(allowed);
    expect(removed).toEqual([refused[0]]);
  });
});

/**
 * Kernel settings the rules need, set in a private namespace by the real code reading and
 * writing that namespace's /proc/sys/net: bridge-nf-call-iptables/ip6tables set to 1 when
 * 0, route_localnet on Docker's bridges only, never globally.
 */
import { describe, expect, it } from 'vitest';
import { withNetns, type Netns } from '../helpers/netns.js';

const KERNEL = new URL('../../dist/dataplane/kernel.js', import.meta.url).href;

/** Runs ensureKernelState inside the namespace (so /proc/sys/net is the namespace's) and prints its result. */
async function ensureIn(ns: Netns, bridges: readonly string[]): Promise<{ changed: string[]; problems: string[] }> {
  const script = `import(${JSON.stringify(KERNEL)}).then(async (m) => console.log(JSON.stringify(await m.ensureKernelState(${JSON.stringify(bridges)}))))`;
  const r = await ns.exec(process.execPath, ['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  return JSON.parse(String(r.stdout)) as { changed: string[]; problems: string[] };
}

const read = async (ns: Netns, path: string) => String((await ns.exec('cat', [path])).stdout).trim();

describe('kernel settings', () => {
  it('sets bridge-nf-call-iptables and -ip6tables to 1 when they are 0, and says so', async () => {
    await withNetns(async (ns) => {
      for (const name of ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables']) {
        await ns.exec('sysctl', ['-qw', `net.bridge.${name}=0`]);
        expect(await read(ns, `/proc/sys/net/bridge/${name}`)).toBe('0');
      }
      const state = await ensureIn(ns, []);
      expect(await read(ns, '/proc/sys/net/bridge/bridge-nf-call-iptables')).toBe('1');
      expect(await read(ns, '/proc/sys/net/bridge/bridge-nf-call-ip6tables')).toBe('1');
      expect(state.changed).toEqual(['/proc/sys/net/bridge/bridge-nf-call-iptables=1', '/proc/sys/net/bridge/bridge-nf-call-ip6tables=1']);
      expect(state.problems).toEqual([]);
      expect((await ensureIn(ns, [])).changed, 'already right: nothing written').toEqual([]);
    });
  });

  it('sets route_localnet on the bridges it is given only, never globally', async () => {
    await withNetns(async (ns) => {
      await ns.exec('ip', ['link', 'add', 'docker0', 'type', 'bridge']);
      await ns.exec('ip', ['link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', 'eth10']);
      const state = await ensureIn(ns, ['docker0', 'br-notyetthere']);
      expect(await read(ns, '/proc/sys/net/ipv4/conf/docker0/route_localnet')).toBe('1');
      expect(await read(ns, '/proc/sys/net/ipv4/conf/eth9/route_localnet')).toBe('0');
      expect(await read(ns, '/proc/sys/net/ipv4/conf/all/route_localnet')).toBe('0');
      expect(state.changed).toEqual(['/proc/sys/net/ipv4/conf/docker0/route_localnet=1']);
    });
  });
});

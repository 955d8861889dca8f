/**
 * A private network namespace per test, for real iptables-restore/iptables-save without
 * touching the machine's own firewall. Always deleted afterwards, also when the test fails.
 */
import { randomBytes } from 'node:crypto';
import { execa, type Result } from 'execa';

export interface Netns {
  readonly name: string;
  exec(cmd: string, args: readonly string[], opts?: { input?: string; env?: Record<string, string> }): Promise<Result>;
  dockward(args: readonly string[], env?: Record<string, string>): Promise<Result>;
}

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

export async function withNetns<T>(fn: (ns: Netns) => Promise<T>): Promise<T> {
  const name = `dwt-${randomBytes(4).toString('hex')}`;
  await execa('ip', ['netns', 'add', name]);
  const ns: Netns = {
    name,
    exec: (cmd, args, opts = {}) => execa('ip', ['netns', 'exec', name, cmd, ...args], { reject: false, ...opts, env: { ...process.env, ...opts.env } }),
    dockward: (args, env = {}) => execa('ip', ['netns', 'exec', name, process.execPath, CLI, ...args], { reject: false, env: { ...process.env, ...env } }),
  };
  try {
    return await fn(ns);
  } finally {
    await execa('ip', ['netns', 'delete', name], { reject: false });
  }
}

/** iptables-save (ip6tables-save for ipv6) without the comment lines and counters that change between runs. */
export async function saved(ns: Netns, backend: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<string> {
  const stdout = String((await ns.exec(`${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${backend}-save`, [])).stdout);
  return stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]')).join('\n');
}

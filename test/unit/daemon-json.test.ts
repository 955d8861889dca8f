/** daemon.json.example, as an operator installs it: doctor finds nothing to fix in what it sets. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dockerProxy, dockerRules, type Facts } from '../../src/doctor/checks.js';

const PATH = '/etc/docker/daemon.json';
const example = JSON.parse(readFileSync(new URL('../../daemon.json.example', import.meta.url), 'utf8')) as Record<string, unknown>;
const NS = 'net:[4026532000]';
const empty = { installed: true, version: 'iptables v1.8.9 (nf_tables)', saves: { ipv4: { text: '' }, ipv6: { text: '' } } };

/** A host whose dockerd runs with no flags: only the config file decides. */
function hostWith(values: Record<string, unknown>): Facts {
  return {
    backend: 'nft', backendChosenBy: 'detection', backends: { nft: empty, legacy: empty }, sysctls: {}, ownNetns: NS,
    processes: [{ pid: 100, netns: NS, argv: ['/usr/sbin/dockerd'] }],
    daemonConfig: { path: PATH, state: 'read', values },
    docker: { host: 'unix:///var/run/docker.sock', reachable: true, version: '20.10.24', networks: [] },
    policy: { path: '/etc/dockward/policy.yaml', explicit: false, state: 'absent' },
  };
}

describe('daemon.json.example', () => {
  it('turns off Docker\'s own rules and docker-proxy, as doctor checks them', () => {
    const host = hostWith(example);
    expect(dockerRules(host)).toMatchObject({ ok: true });
    expect(dockerProxy(host)).toMatchObject({ ok: true });
  });

  it('each of its settings matters: without it doctor fails the host', () => {
    // ip6tables is off by default in dockerd 20.10 (on from 27): the example sets it for newer engines.
    const { iptables: _iptables, ...noRules } = example;
    expect(dockerRules(hostWith(noRules))).toMatchObject({ ok: false, severity: 'fail' });
    expect(dockerRules(hostWith({ ...example, ip6tables: true }))).toMatchObject({ ok: false, severity: 'fail' });
    const { 'userland-proxy': _proxy, ...noProxy } = example;
    expect(dockerProxy(hostWith(noProxy))).toMatchObject({ ok: false, severity: 'fail' });
    expect(example['live-restore']).toBe(true);
  });
});

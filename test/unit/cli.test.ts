/** The command line as a user meets it: exit codes, plain-text errors, plan without Docker or root. */
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';

const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
const basic = new URL('../golden/cases/01-basic/', import.meta.url).pathname;
const dir = tempDir('dw-cli-');
const dockward = (...args: string[]) => execa(process.execPath, [cli, ...args], { reject: false });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('dockward command line', () => {
  it('prints usage for --help and exits 0', async () => {
    const r = await dockward('--help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('usage: dockward <command>');
  });

  it('refuses an unknown command or flag with exit 2', async () => {
    for (const args of [['frobnicate'], ['apply', '--no-such-flag'], ['run', '--backend', 'iptables'], ['run', '--resync-interval', '0']]) {
      const r = await dockward(...args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^dockward: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('says what is wrong with a command line in its own words, exit 2', async () => {
    const cases: [string[], string][] = [
      [[], 'dockward: no command given'],
      [['bogus'], 'dockward: unknown command "bogus" (commands: apply, plan, inventory, check, flush, run, status, doctor, explain)'],
      [['apply', '--version-of'], 'dockward: unknown option --version-of'],
      [['check', '--json'], 'dockward: --json is an option of status, doctor, explain, not of check'],
      [['status', '--from', '192.0.2.1'], 'dockward: --from is an option of explain, not of status'],
      [['run', '--readback-interval', '-5'], 'dockward: --readback-interval needs a value; to give one that starts with "-", write --readback-interval=VALUE'],
      [['run', '--readback-interval=-5'], 'dockward: --readback-interval: must be a positive number of seconds (got "-5")'],
      [['plan', '--docker-host', 'http://x'], 'dockward: --docker-host: must be unix:///path/to/socket or tcp://host:port (got "http://x")'],
      [['inventory', '--docker-host', 'tcp://docker:99999'], 'dockward: --docker-host: must be unix:///path/to/socket or tcp://host:port (got "tcp://docker:99999")'],
    ];
    for (const [args, message] of cases) {
      const r = await dockward(...args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toBe(message);
    }
  });

  it('prints its version', async () => {
    const r = await dockward('--version');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^dockward \d+\.\d+\.\d+$/);
  });

  it('check sums up every list the policy holds', async () => {
    const only = file('lists.yaml', 'version: 1\ndefaults: { outbound: deny }\negress:\n  - { ports: [53/udp] }\nhost:\n  toContainers:\n    - { containers: web }\n');
    const r = await dockward('check', '--policy', only);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${only}: ok (0 rules, 1 egress rule, 1 host.toContainers rule, default for published ports: allow, outbound: deny)`);
  });

  it('check: a good policy exits 0, a bad one exits 2 naming every problem', async () => {
    expect((await dockward('check', '--policy', join(basic, 'policy.yaml'))).exitCode).toBe(0);
    const bad = file('bad.yaml', 'version: 1\nrules:\n  - { ports: [70000], from: [zone:nope] }\n');
    const r = await dockward('check', '--policy', bad);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${bad}: rules[0].ports[0]: port 70000 out of range 1-65535`,
      `${bad}: rules[0].from[0]: unknown zone "nope" (no zones are defined)`,
    ]);
  });

  it('a named policy file that is missing is an error, not the permissive default', async () => {
    const r = await dockward('check', '--policy', join(dir, 'absent.yaml'));
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(`${join(dir, 'absent.yaml')}: file not found`);
  });

  it('plan --inventory compiles without Docker or root and prints the restore text', async () => {
    const r = await dockward('plan', '--inventory', join(basic, 'inventory.json'), '--policy', join(basic, 'policy.yaml'), '--docker-host', 'unix:///nonexistent');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('-j DNAT --to-destination 172.17.0.2:443');
    expect(r.stdout).toContain('# ipv6 (not compared with live rules)');
  });

  it('plan shows the ipset a big zone is loaded into, with every entry', async () => {
    const cidrs = Array.from({ length: 40 }, (_, i) => `10.${i}.0.0/16`);
    const big = file('big.yaml', `version: 1\ndefaults: { published: deny }\nzones:\n  big: { sources: [${cidrs.join(', ')}] }\nrules:\n  - { from: [zone:big] }\n`);
    const r = await dockward('plan', '--inventory', join(basic, 'inventory.json'), '--policy', big);
    expect(r.exitCode).toBe(0);
    const set = /^# ipset (DOCKWARD-Z-\S+) \(ipv4, 40 entries\): ipset restore input$/m.exec(r.stdout)?.[1];
    expect(set).toBeDefined();
    expect(r.stdout).toContain(`-m set --match-set ${set} src`);
    for (const c of cidrs) expect(r.stdout).toContain(`add ${set}-T ${c} -exist`);
  });

  it('plan --inventory with a malformed inventory exits 2 naming the place', async () => {
    const broken = file('inv.json', JSON.stringify({ networks: [], containers: [{ id: 'x' }] }));
    const r = await dockward('plan', '--inventory', broken);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${broken}: containers[0].name: missing (expected string)`);
    const list = await dockward('plan', '--inventory', file('list.json', '[]'));
    expect(list.exitCode).toBe(2);
    expect(list.stderr).toMatch(/list\.json: .*expected object, received array \(an inventory is an object/);
  });

  it('a DOCKER_HOST that is none of Docker\'s forms is refused as --docker-host is (exit 2), before anything runs', async () => {
    for (const command of ['inventory', 'doctor']) {
      const r = await execa(process.execPath, [cli, command], { reject: false, env: { DOCKER_HOST: 'docker.example:2375' } });
      expect(r.exitCode, command).toBe(2);
      expect(r.stderr.split('\n')[0], command).toBe('dockward: DOCKER_HOST: must be unix:///path/to/socket or tcp://host:port (got "docker.example:2375")');
    }
  });

  it('a Docker that cannot be reached is a runtime failure (exit 1)', async () => {
    const r = await dockward('inventory', '--docker-host', 'unix:///nonexistent/docker.sock');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^dockward: cannot read the Docker inventory from unix:\/\/\/nonexistent\/docker.sock/);
  });
});

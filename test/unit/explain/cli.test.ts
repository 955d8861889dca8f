/** `dockward explain` as a user meets it, from an inventory file: no Docker, no root. */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../../dist/cli.js', import.meta.url).pathname;
const basic = new URL('../../golden/cases/01-basic/', import.meta.url).pathname;
const files = ['--inventory', `${basic}inventory.json`, '--policy', `${basic}policy.yaml`, '--docker-host', 'unix:///nonexistent'];
const dockward = (...args: string[]) => execa(process.execPath, [cli, ...args], { reject: false });

describe('dockward explain', () => {
  it('explains a container from an inventory file, in words and as JSON', async () => {
    const text = await dockward('explain', 'web', ...files);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain('443/tcp on every host address → web:443: allowed from zone:external (ext0) and 192.0.2.10 by rules[0] public-https; everyone else: deny (defaults.published)');
    const json = await dockward('explain', 'web', ...files, '--json', '--from', '192.0.2.10@eth0');
    expect(json.exitCode).toBe(0);
    const parsed = JSON.parse(json.stdout) as { bindings: { hostPort: number; answer: { allowed: boolean } }[] };
    expect(parsed.bindings.map((b) => [b.hostPort, b.answer.allowed])).toEqual([[443, true], [10443, false], [5353, true]]);
  });

  it('an unknown container is bad input (exit 2) naming close names', async () => {
    const r = await dockward('explain', 'wbe', ...files);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe('dockward: no running container is named "wbe" or has an id starting with it; close names: web');
  });

  it('usage errors exit 2: no CONTAINER, two of them, a bad --from, --from elsewhere', async () => {
    const cases: [string[], string][] = [
      [['explain', ...files], 'explain needs a CONTAINER'],
      [['explain', 'web', 'api', ...files], 'unexpected argument "api"'],
      [['explain', 'web', '--from', 'nowhere', ...files], '--from: "nowhere" is not an IPv4 or IPv6 address'],
      [['plan', '--from', '192.0.2.1', ...files], '--from is an option of explain, not of plan'],
    ];
    for (const [args, message] of cases) {
      const r = await dockward(...args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});

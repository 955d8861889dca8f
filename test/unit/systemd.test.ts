/** The systemd unit: valid for systemd itself, and hardened as the README says. */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const unit = readFileSync(new URL('../../systemd/dockward.service', import.meta.url), 'utf8');
const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
const analyze = await execa('systemd-analyze', ['--version'], { reject: false });

describe('systemd/dockward.service', () => {
  it.skipIf(analyze.exitCode !== 0)('passes systemd-analyze verify', async () => {
    // verify also checks that ExecStart exists: point it at the built CLI for the check.
    const dir = mkdtempSync(join(tmpdir(), 'dw-unit-'));
    try {
      const file = join(dir, 'dockward.service');
      writeFileSync(file, unit.replaceAll('/usr/local/bin/dockward', cli));
      const result = await execa('systemd-analyze', ['verify', file], { reject: false });
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps only the capabilities iptables needs, reloads on SIGHUP and restarts on failure', () => {
    expect(unit).toMatch(/^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^Before=docker\.service/m);
  });
});

/** The systemd unit and its drop-ins: valid for systemd itself, and hardened as the README says. */
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../systemd/${path}`, import.meta.url), 'utf8');
const unit = read('dockward.service');
const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
const analyze = await execa('systemd-analyze', ['--version'], { reject: false }).catch(() => ({ exitCode: 127 }));
// In CI a missing analyzer is a broken setup (scripts/install-deps.sh installs it), not a reason to skip.
const verifiable = analyze.exitCode === 0 || process.env['CI'] === '1';
const HOOKED = ['netfilter-persistent', 'iptables'];

async function verify(dir: string, file: string) {
  // Drop-ins are found on the unit path; ExecStart must exist: the built CLI stands in.
  return execa('systemd-analyze', ['verify', file], { reject: false, env: { SYSTEMD_UNIT_PATH: `${dir}:` } });
}

describe('systemd/dockward.service', () => {
  it.skipIf(!verifiable)('passes systemd-analyze verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-unit-'));
    try {
      const file = join(dir, 'dockward.service');
      writeFileSync(file, unit.replaceAll('/usr/local/bin/dockward', cli));
      const result = await verify(dir, file);
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps only the capabilities iptables needs, on a read-only system with /run writable and the Docker socket reachable', () => {
    expect(unit).toMatch(/^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW$/m);
    expect(unit).toMatch(/^AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    // The xtables lock (/run/xtables.lock) and the Docker socket (/run/docker.sock) live in /run.
    expect(unit).toMatch(/^ReadWritePaths=\/run$/m);
    expect(unit).toMatch(/^RestrictAddressFamilies=.*\bAF_UNIX\b.*$/m);
    expect(unit).toMatch(/^RestrictAddressFamilies=.*\bAF_NETLINK\b.*$/m);
    expect(unit).not.toMatch(/^(PrivateNetwork|InaccessiblePaths=.*\/run)/m);
    expect(unit).toMatch(/^StateDirectory=dockward$/m);
  });

  it('reloads on SIGHUP, restarts on failure but not on bad input, and needs no policy file', () => {
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/dockward run$/m);
    expect(unit).toMatch(/^Before=docker\.service/m);
  });
});

describe.each(HOOKED)('systemd/%s.service.d/dockward.conf', (service) => {
  const dropIn = read(`${service}.service.d/dockward.conf`);

  it('asks a running dockward to repair after the service restored its rules, without blocking or failing it', () => {
    expect(dropIn).toMatch(/^ExecStartPost=-\/bin\/systemctl --no-block try-reload-or-restart dockward\.service$/m);
  });

  it.skipIf(!verifiable)('is valid for systemd on the service it extends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-dropin-'));
    try {
      mkdirSync(join(dir, `${service}.service.d`));
      writeFileSync(join(dir, `${service}.service.d`, 'dockward.conf'), dropIn);
      writeFileSync(join(dir, `${service}.service`), '[Unit]\nDescription=stand-in\n[Service]\nType=oneshot\nExecStart=/bin/true\n');
      const result = await verify(dir, join(dir, `${service}.service`));
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

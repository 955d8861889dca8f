/** `networks:` (ICC per network) and `connections:` (direct container-to-container paths): normalised form and errors. */
import { describe, expect, it } from 'vitest';
import { policy, problems } from '../../helpers/fixtures.js';


describe('networks', () => {
  it('puts exact names before globs, globs in file order', () => {
    const p = policy('version: 1\nnetworks:\n  "front-*": { icc: allow }\n  backend: { icc: deny }\n  "*": { icc: deny }\n');
    expect(p.networks).toEqual([
      { pattern: 'backend', icc: 'deny' },
      { pattern: 'front-*', icc: 'allow' },
      { pattern: '*', icc: 'deny' },
    ]);
  });

  it('names a bad network name, a bad icc value and an unknown key, each at its place', () => {
    expect(problems('version: 1\nnetworks:\n  "bad name": { icc: allow }\n  db: { icc: off }\n  web: { icc: allow, mtu: 1500 }\n')).toEqual([
      'policy.yaml: networks.db.icc: must be one of allow, deny (got "off")',
      'policy.yaml: networks.web: unknown key "mtu" (known keys: icc)',
      'policy.yaml: networks["bad name"]: "bad name" is not a Docker network name or a glob over names ("*", "?")',
    ]);
  });
});

describe('connections', () => {
  it('normalises a rule: selectors, ports, action', () => {
    const p = policy('version: 1\nconnections:\n  - { name: app-db, from: app, to: { name: "db*" }, ports: [5432/tcp] }\n');
    expect(p.connections).toEqual([{
      index: 0, name: 'app-db', from: [{ name: 'app' }], to: [{ name: 'db*' }],
      ports: [{ protocol: 'tcp', from: 5432, to: 5432 }], action: 'allow',
    }]);
  });

  it('needs from and to, and names every problem at its place', () => {
    expect(problems('version: 1\nconnections:\n  - { to: db }\n  - { from: app, to: db, ports: [70000], action: permit }\n  - { from: app, to: db, via: x }\n')).toEqual([
      'policy.yaml: connections[0].from: is required',
      'policy.yaml: connections[1].ports[0]: port 70000 out of range 1-65535',
      'policy.yaml: connections[1].action: must be one of allow, deny, reject (got "permit")',
      'policy.yaml: connections[2]: unknown key "via" (known keys: name, from, to, ports, action, log)',
    ]);
  });
});

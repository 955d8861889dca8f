/**
 * Ban lists and big zones as ipsets, with real traffic: a source in a set kept by someone
 * else (as fail2ban keeps f2b-*) is refused although a later rule admits its link, and is
 * admitted again as soon as it leaves the set — no re-apply; a set that does not exist yet
 * leaves its rules out with a note and comes in at the next apply; a zone of 5,000 CIDRs
 * loads as one ipset of dockward's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, eventually, scratch, startDockward } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const GOOD = LAB_ADDR.external.client;
const BANNED = LAB_ADDR.external.client2;
const BANS = `version: 1
zones:
  banned: { ipset: f2b-lab }
  external: { interfaces: [${LAB_ADDR.external.hostIf}] }
defaults: { published: deny }
rules:
  - { name: bans, from: [zone:banned], action: deny }
  - { name: link, from: [zone:external] }
`;

let lab: Lab;
const files = scratch();
const get = (source: string) => lab.http('external', `http://${EXT}:8080/`, { source });
/** The live rules, without iptables-save's comment lines (they carry the time to the second). */
const liveRules = async () => (await lab.inHost('iptables-save', [])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');

async function apply(yaml: string) {
  const result = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', yaml)]);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stderr;
}

beforeAll(async () => {
  lab = await startLab();
  await lab.runHttp('web', { publish: ['8080:80'] });
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('ipset zones', () => {
  it('a set that does not exist yet leaves its rules out with a note; the next apply takes it in', async () => {
    expect(await apply(BANS)).toContain('note: zone:banned: ipset f2b-lab does not exist (yet)');
    expect(await Promise.all([get(GOOD), get(BANNED)])).toEqual(['web', 'web']);
    await lab.inHost('ipset', ['create', 'f2b-lab', 'hash:ip']);
    await lab.inHost('ipset', ['add', 'f2b-lab', BANNED]);
    expect(await apply(BANS)).toBe('');
    expect(await Promise.all([get(GOOD), get(BANNED)])).toEqual(['web', null]);
  });

  it('under dockward run, a set created later is taken in within seconds, with no resync due', async () => {
    const yaml = BANS.replace('f2b-lab', 'f2b-late');
    const d = startDockward(lab, ['--policy', files.policy('late.yaml', yaml), '--state-dir', files.dir, '--resync-interval', '600']);
    try {
      await d.waitForLog((r) => r.msg === 'applied');
      expect(await Promise.all([get(GOOD), get(BANNED)])).toEqual(['web', 'web']);
      await lab.inHost('ipset', ['create', 'f2b-late', 'hash:ip']);
      await lab.inHost('ipset', ['add', 'f2b-late', BANNED]);
      const ms = await eventually(async () => (await get(BANNED)) === null, 4000);
      expect(await get(GOOD), 'the rest of the link still gets in').toBe('web');
      console.log(`a ban list created under dockward run refused its source after ${ms} ms`);
    } finally {
      expect(await d.stop()).toBe(0);
      // Back to the rules the next tests start from; the set is free to go once no rule uses it.
      await apply(BANS);
      await lab.inHost('ipset', ['destroy', 'f2b-late'], { reject: false });
    }
  });

  it('a banned source is refused before the rule that admits its link, and admitted once unbanned, without a re-apply', async () => {
    const rules = await liveRules();
    await lab.inHost('ipset', ['del', 'f2b-lab', BANNED]);
    await eventually(async () => (await get(BANNED)) === 'web', 2000);
    expect(await liveRules(), 'no rule changed').toBe(rules);
    await lab.inHost('ipset', ['add', 'f2b-lab', BANNED]);
    expect(await Promise.all([get(GOOD), get(BANNED)])).toEqual(['web', null]);
  });

  it('a zone of 5,000 CIDRs loads as one ipset of dockward\'s own, matched by one rule per binding', async () => {
    const cidrs = Array.from({ length: 5000 }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`);
    const yaml = `version: 1
zones:
  partners: { sources: [${[...cidrs, `${GOOD}/32`].join(', ')}] }
defaults: { published: deny }
rules:
  - { from: [zone:partners] }
`;
    await apply(yaml);
    const sets = (await lab.inHost('ipset', ['list', '-n'])).stdout.split('\n').filter((n) => n.startsWith('DOCKWARD-'));
    expect(sets).toHaveLength(1);
    const header = (await lab.inHost('ipset', ['list', '-t', sets[0]!])).stdout;
    expect(header).toMatch(/Number of entries: 5001/);
    const saved = (await lab.inHost('iptables-save', [])).stdout;
    expect(saved).not.toContain('10.0.1.0/24');
    expect(saved.split('\n').filter((l) => l.includes(`--match-set ${sets[0]} src`)).length).toBeLessThanOrEqual(4);
    expect(await Promise.all([get(GOOD), get(BANNED)])).toEqual(['web', null]);
    expect(await apply(yaml), 'an unchanged set is not loaded again').toBe('');
  });

  it('flush removes dockward\'s own sets and leaves the others', async () => {
    expect((await dockward(lab, ['flush'])).exitCode).toBe(0);
    const sets = (await lab.inHost('ipset', ['list', '-n'])).stdout.split('\n').filter(Boolean);
    expect(sets).toEqual(['f2b-lab']);
  });
});

/**
 * `log: true` with real traffic: the LOG line before a verdict matches the packets that
 * verdict decides, rate-limited, with a prefix naming the rule. The kernel keeps LOG output
 * of a network namespace out of the machine's log unless a global sysctl says otherwise
 * (which tests never touch), so what is checked is the LOG line's own packet counter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ADDR, startLab, type Lab } from '../../src/lab/index.js';
import { dockward, scratch } from './dockward.js';

const EXT = LAB_ADDR.external.host;
const INT = LAB_ADDR.internal.host;
const POLICY = `version: 1
zones:
  internal: { interfaces: [${LAB_ADDR.internal.hostIf}] }
defaults:
  published: { action: deny, log: true }
rules:
  - { name: lan, from: [zone:internal], log: true }
`;

let lab: Lab;
const files = scratch();

/** Packet counter of the saved rule whose text contains `needle`, summed over matches. */
async function packets(needle: string): Promise<number> {
  const saved = (await lab.inHost('iptables-save', ['-c'])).stdout.split('\n');
  return saved.filter((l) => l.includes(needle)).reduce((n, l) => n + Number(/^\[(\d+):/.exec(l)?.[1] ?? 0), 0);
}

beforeAll(async () => {
  lab = await startLab();
  await lab.runHttp('web', { publish: ['8080:80'] });
  const result = await dockward(lab, ['apply', '--policy', files.policy('policy.yaml', POLICY)]);
  expect(result.exitCode).toBe(0);
});

afterAll(async () => {
  await lab?.stop();
  files.cleanup();
});

describe('logging', () => {
  it('logs refused and allowed connections before the verdict, with the rule in the prefix, rate-limited', async () => {
    const refused = await Promise.all(Array.from({ length: 12 }, () => lab.http('external', `http://${EXT}:8080/`, { timeoutMs: 500 })));
    expect(refused.every((r) => r === null)).toBe(true);
    expect(await lab.http('internal', `http://${INT}:8080/`), 'positive control').toBe('web');
    const denyLogged = await packets('--log-prefix "DW DENY default:published "');
    const dropped = await packets('default" -j DROP');
    expect(denyLogged).toBeGreaterThan(0);
    expect(denyLogged, 'the rate limit (burst 5) holds back the rest').toBeLessThanOrEqual(6);
    expect(dropped).toBeGreaterThanOrEqual(12);
    expect(await packets('--log-prefix "DW ALLOW rules[0]:lan "')).toBe(1);
  });
});

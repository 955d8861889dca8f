/**
 * iptables semantics the tracer must get right, on hand-made rulesets: jump and goto,
 * RETURN, MARK, interface wildcards and negation, conntrack before and after raw, and
 * refusing to guess — an unknown match, target or chain throws.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import type { Chain, Hook, Match, Rule, Ruleset, Table, TableName, Target } from '../../../src/ruleset/types.js';
import { checkJumps, FROM_HOST, trace, TraceError, type HostView, type Packet } from '../../../src/trace/index.js';
import { goldenCases } from './golden.js';

const HOST: HostView = { localAddresses: ['198.51.100.1'], bridges: [{ cidr: '172.17.0.0/16', iface: 'docker0' }] };
const PACKET: Packet = { family: 'ipv4', protocol: 'tcp', source: '198.51.100.2', inIface: 'eth0', destination: '172.17.0.2', dport: 80 };

const r = (matches: Match[], target: Target, note?: string): Rule => (note ? { matches, target, note } : { matches, target });
const EMPTY: Table = { chains: [], hooks: [] };

/** A table whose built-in chain `builtin` jumps to the first of `chains`. */
function entry(builtin: string, chains: Chain[], extraHooks: Hook[] = []): Table {
  return { chains, hooks: [{ builtin, rule: r([], { kind: 'jump', chain: chains[0]!.name }) }, ...extraHooks] };
}

function ruleset(tables: Partial<Record<TableName, Table>>): Ruleset {
  return { family: 'ipv4', tables: { raw: EMPTY, mangle: EMPTY, nat: EMPTY, filter: EMPTY, ...tables } };
}

/** Only filter FORWARD hooked, into `chains` (entry: the first). */
function forward(chains: Chain[], extraHooks: Hook[] = []): Ruleset {
  return ruleset({ filter: entry('FORWARD', chains, extraHooks) });
}

const verdictOf = (ruleset: Ruleset, packet: Packet = PACKET) => trace(ruleset, packet, HOST).verdict.kind;

describe('trace semantics', () => {
  it('a jumped-to chain that ends returns to the next rule; a goto returns to the caller’s caller', () => {
    const done: Chain = { name: 'B', rules: [r([], { kind: 'RETURN' })] };
    const viaJump: Chain = { name: 'A', rules: [r([], { kind: 'jump', chain: 'B' }), r([], { kind: 'DROP' })] };
    const viaGoto: Chain = { name: 'A', rules: [r([], { kind: 'goto', chain: 'B' }), r([], { kind: 'DROP' })] };
    expect(verdictOf(forward([viaJump, done]))).toBe('dropped');
    expect(verdictOf(forward([viaGoto, done]))).toBe('delivered');
  });

  it('MARK sets bits under the mask (xmark) and a later mark match sees them', () => {
    const chain: Chain = {
      name: 'A', rules: [
        r([], { kind: 'MARK', value: 0x10, mask: 0x30 }),
        r([{ kind: 'mark', value: 0x20, mask: 0x20 }], { kind: 'ACCEPT' }),
        r([{ kind: 'mark', value: 0x10, mask: 0x30 }], { kind: 'DROP' }),
      ],
    };
    expect(verdictOf(forward([chain]))).toBe('dropped');
  });

  it('interfaces: "+" is a prefix wildcard, "!" negates', () => {
    const rule = (m: Match) => forward([{ name: 'A', rules: [r([m], { kind: 'DROP' })] }]);
    expect(verdictOf(rule({ kind: 'in', iface: 'eth+' }))).toBe('dropped');
    expect(verdictOf(rule({ kind: 'in', iface: 'eth1' }))).toBe('delivered');
    expect(verdictOf(rule({ kind: 'in', iface: 'eth0', negate: true }))).toBe('delivered');
    expect(verdictOf(rule({ kind: 'out', iface: 'docker+' }))).toBe('dropped');
    expect(verdictOf(rule({ kind: 'source', cidr: '198.51.100.0/24', negate: true }))).toBe('delivered');
  });

  it('POSTROUTING still sees the inbound interface of a forwarded packet, never of one the host sends', () => {
    const snatFromEth0: Chain[] = [{ name: 'P', rules: [r([{ kind: 'in', iface: 'eth0' }], { kind: 'MASQUERADE' })] }];
    const rs = ruleset({ nat: entry('POSTROUTING', snatFromEth0) });
    expect(trace(rs, PACKET, HOST).snat).toMatchObject({ to: 'MASQUERADE' });
    expect(trace(rs, { ...PACKET, source: '198.51.100.1', inIface: FROM_HOST }, HOST).snat).toBeUndefined();
  });

  it('conntrack: raw sees no entry yet (INVALID), FORWARD sees NEW, DNAT only after a translation', () => {
    const dropIf = (...states: ('NEW' | 'INVALID' | 'DNAT')[]): Chain[] => [{ name: 'A', rules: [r([{ kind: 'ctstate', states }], { kind: 'DROP' })] }];
    expect(verdictOf(ruleset({ raw: entry('PREROUTING', dropIf('NEW')) }))).toBe('delivered');
    expect(verdictOf(ruleset({ raw: entry('PREROUTING', dropIf('INVALID')) }))).toBe('dropped');
    expect(verdictOf(ruleset({ mangle: entry('PREROUTING', dropIf('NEW')) }))).toBe('dropped');
    expect(verdictOf(forward(dropIf('DNAT')))).toBe('delivered');
    const translate: Chain[] = [{ name: 'N', rules: [r([], { kind: 'DNAT', to: '172.17.0.9:8080' })] }];
    const t = trace(ruleset({ nat: entry('PREROUTING', translate), filter: entry('FORWARD', dropIf('DNAT')) }), { ...PACKET, destination: '198.51.100.1' }, HOST);
    expect(t.verdict).toMatchObject({ kind: 'dropped', step: { table: 'filter' } });
    expect(t.dnat).toMatchObject({ address: '172.17.0.9', port: 8080 });
  });

  it('throws on a match kind, a target or a chain it does not know, rather than guess', () => {
    const strange = { kind: 'string', text: 'x' } as unknown as Match;
    expect(() => verdictOf(forward([{ name: 'A', rules: [r([strange], { kind: 'ACCEPT' })] }]))).toThrow(TraceError);
    // Also where an earlier match of the same rule already fails: a new kind must never slip through.
    expect(() => verdictOf(forward([{ name: 'A', rules: [r([{ kind: 'in', iface: 'nope' }, strange], { kind: 'ACCEPT' })] }]))).toThrow(/match kind "string"/);
    expect(() => verdictOf(forward([{ name: 'A', rules: [r([], { kind: 'TPROXY' } as unknown as Target)] }]))).toThrow(/target "TPROXY"/);
    expect(() => verdictOf(forward([{ name: 'A', rules: [r([], { kind: 'jump', chain: 'GONE' })] }]))).toThrow(/GONE, which does not exist/);
    expect(() => verdictOf(forward([{ name: 'A', rules: [r([], { kind: 'jump', chain: 'A' })] }]))).toThrow(/loop/);
  });

  it('checkJumps finds a jump or goto to a chain that does not exist, in chains and hooks', () => {
    const broken = forward([{ name: 'A', rules: [r([], { kind: 'goto', chain: 'GONE' })] }], [{ builtin: 'FORWARD', rule: r([], { kind: 'jump', chain: 'ALSO-GONE' }) }]);
    expect(checkJumps(broken)).toEqual([
      { table: 'filter', chain: 'A', index: 0, target: 'GONE' },
      { table: 'filter', chain: 'FORWARD', index: 1, target: 'ALSO-GONE' },
    ]);
  });

  for (const c of goldenCases()) {
    it(`golden case ${c.name}: every jump and goto lands on a chain that exists`, () => {
      for (const ruleset of compile(c.inventory, c.policy).rulesets) expect(checkJumps(ruleset), ruleset.family).toEqual([]);
    });
  }
});

/** doctor: parts of the policy not in force (missing ipsets, ignored labels), and native nftables tables. */
import { describe, expect, it } from 'vitest';
import { nativeHookTables, nativeNftables, policyLeftOut, type Facts } from '../../../src/doctor/checks.js';

const facts = (extra: Partial<Facts>) => extra as Facts;

describe('doctor: policy not in force', () => {
  it('warns with each note, and is fine without', () => {
    const notes = ['zone:banned: ipset f2b-sshd does not exist (yet); the rules that use it are left out until it does'];
    expect(policyLeftOut(facts({ compileNotes: notes }))).toMatchObject({ ok: false, severity: 'warn', details: notes });
    expect(policyLeftOut(facts({ compileNotes: [] }))).toMatchObject({ ok: true });
    expect(policyLeftOut(facts({}))).toMatchObject({ ok: true, summary: expect.stringContaining('not checked') });
  });
});

describe('doctor: native nftables tables', () => {
  const ruleset = `table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy accept;
	}
}
table inet firewalld {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
	}
}
table inet quiet {
	chain out {
		type filter hook output priority 0; policy accept;
	}
}
table ip6 guard {
	chain fwd {
		type filter hook forward priority -1; policy drop;
	}
}
`;

  it('finds native tables on input or forward, not iptables-nft\'s own', () => {
    expect(nativeHookTables(ruleset)).toEqual(['inet firewalld', 'ip6 guard']);
  });

  it('warns about them', () => {
    expect(nativeNftables(facts({ nativeTables: ['inet firewalld'] }))).toMatchObject({ ok: false, severity: 'warn', details: ['inet firewalld'] });
    expect(nativeNftables(facts({ nativeTables: [] }))).toMatchObject({ ok: true });
  });
});

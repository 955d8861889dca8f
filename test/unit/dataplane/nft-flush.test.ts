import { describe, expect, it } from 'vitest';
import { flushBatcher, flushScript } from '../../../src/dataplane/nft-flush.js';
import { onlyFlushes } from '../../../src/dataplane/apply.js';
import { flushText } from '../../../src/dataplane/iptables.js';
import type { Change } from '../../../src/ruleset/plan.js';
import type { TableName } from '../../../src/ruleset/types.js';

describe('emptying chains through nft', () => {
  it('names the nft family of each address family', () => {
    expect(flushScript('ipv4', [{ table: 'filter', chain: 'DOCKWARD-C-1' }, { table: 'nat', chain: 'DOCKWARD-C-1' }]))
      .toBe('flush chain ip filter DOCKWARD-C-1\nflush chain ip nat DOCKWARD-C-1\n');
    expect(flushScript('ipv6', [{ table: 'mangle', chain: 'DOCKWARD-C-1' }])).toBe('flush chain ip6 mangle DOCKWARD-C-1\n');
  });

  it('runs the requests of one turn (both families of an apply) as one script, later ones as the next', async () => {
    const scripts: string[] = [];
    const flush = flushBatcher(async (script) => { scripts.push(script); });
    await Promise.all([flush('ipv4', [{ table: 'filter', chain: 'A' }]), flush('ipv6', [{ table: 'nat', chain: 'B' }])]);
    await flush('ipv4', [{ table: 'raw', chain: 'C' }]);
    expect(scripts).toEqual(['flush chain ip filter A\nflush chain ip6 nat B\n', 'flush chain ip raw C\n']);
  });

  it('a refused script fails every request in it (nft commits all of it or nothing)', async () => {
    const flush = flushBatcher(async () => { throw new Error('nft -f failed (exit 1): No such file or directory'); });
    const results = await Promise.allSettled([flush('ipv4', [{ table: 'filter', chain: 'A' }]), flush('ipv6', [{ table: 'filter', chain: 'A' }])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('only a plan that does nothing but empty chains goes that way', () => {
    const chains = [{ table: 'nat', chain: 'DOCKWARD-C-1' }, { table: 'filter', chain: 'DOCKWARD-C-1' }, { table: 'nat', chain: 'DOCKWARD-K-1' }] as const;
    expect(flushText(chains)).toBe('*nat\n-F DOCKWARD-C-1\n-F DOCKWARD-K-1\nCOMMIT\n*filter\n-F DOCKWARD-C-1\nCOMMIT\n');
    const flush = (table: TableName, chain: string): Change => ({ kind: 'flush-chain', table, chain });
    expect(onlyFlushes([flush('nat', 'DOCKWARD-C-1'), flush('nat', 'DOCKWARD-K-1'), flush('filter', 'DOCKWARD-C-1')]))
      .toEqual([{ table: 'nat', chain: 'DOCKWARD-C-1' }, { table: 'nat', chain: 'DOCKWARD-K-1' }, { table: 'filter', chain: 'DOCKWARD-C-1' }]);
    expect(onlyFlushes([flush('filter', 'DOCKWARD-C-1'), { kind: 'edit-chain', table: 'filter', chain: 'DOCKWARD-K-2' }]), 'a deletion by text: restore').toBeUndefined();
    expect(onlyFlushes([{ kind: 'write-chain', table: 'filter', chain: 'DOCKWARD-C-1' }])).toBeUndefined();
    expect(onlyFlushes([])).toBeUndefined();
  });
});

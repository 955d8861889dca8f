/**
 * An in-memory stand-in for iptables-restore/-save (one family), behind the same Iptables
 * seam as the real programs. It applies restore text the way `--noflush` does (declaring a
 * chain creates or flushes it, -A, -I N, -D by exact text, -F, -X), commits table by table,
 * and can be told to fail, or be wiped, as other programs on a host would. As the nft
 * backend, it also empties chains through flushChains (as `nft flush chain` would).
 */
import type { Iptables } from '../../src/dataplane/iptables.js';
import { flushText, RestoreError } from '../../src/dataplane/iptables.js';
import type { ChainRef } from '../../src/dataplane/nft-flush.js';
import type { Family, TableName } from '../../src/ruleset/types.js';

const BUILTINS: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'], mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'], nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};

type Tables = Map<string, Map<string, string[]>>;

/** Targets that are not chains (those that take options never end a rule's text). */
const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'MASQUERADE']);

export class FakeIptables implements Iptables {
  readonly backend = 'nft' as const;
  /** One kernel state per family, as iptables and ip6tables have. */
  private readonly families = new Map<Family, Tables>();
  restores = 0;
  /** Make the next restores fail (counted down). */
  failNext = 0;
  /** Refuse restore lines that match, as a kernel without a match module does (the table is not committed). */
  refuse?: RegExp;

  private tablesOf(family: Family): Tables {
    if (!this.families.has(family)) this.families.set(family, new Map());
    return this.families.get(family)!;
  }

  private table(name: string, family: Family = 'ipv4'): Map<string, string[]> {
    const tables = this.tablesOf(family);
    if (!tables.has(name)) tables.set(name, new Map((BUILTINS[name] ?? []).map((c) => [c, []])));
    return tables.get(name)!;
  }

  saves = 0;

  async save(family: Family): Promise<string> {
    this.saves++;
    return [...this.tablesOf(family)].map(([name, chains]) => [`*${name}`,
      ...[...chains.keys()].map((c) => `:${c} ${BUILTINS[name]?.includes(c) ? 'ACCEPT' : '-'} [0:0]`),
      ...[...chains].flatMap(([c, rules]) => rules.map((r) => `-A ${c} ${r}`)), 'COMMIT'].join('\n')).join('\n');
  }

  async restore(family: Family, text: string, options?: { readonly whole?: boolean }): Promise<void> {
    this.restores++;
    await this.load(family, text, options);
  }

  /** Chains emptied through the backend's own way (nft), one entry per call. */
  readonly flushCalls: { family: Family; chains: readonly ChainRef[] }[] = [];

  async flushChains(family: Family, chains: readonly ChainRef[]): Promise<void> {
    this.flushCalls.push({ family, chains });
    await this.load(family, flushText(chains));
  }

  private async load(family: Family, text: string, options?: { readonly whole?: boolean }): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new RestoreError(family, 4, 'Another app is currently holding the xtables lock', undefined, '');
    }
    let work: Tables | undefined;
    let name = '';
    for (const [index, line] of text.split('\n').entries()) {
      if (this.refuse?.test(line)) throw new RestoreError(family, 2, `line ${index + 1} failed`, index + 1, line);
      if (line.startsWith('*')) {
        name = line.slice(1);
        // Without --noflush a table starts empty: its built-in chains only.
        const start = options?.whole ? new Map((BUILTINS[name] ?? []).map((c) => [c, [] as string[]])) : this.table(name, family);
        work = new Map([[name, new Map([...start].map(([c, r]) => [c, [...r]]))]]);
      } else if (line === 'COMMIT' && work) {
        this.tablesOf(family).set(name, work.get(name)!);
      } else if (work) {
        this.apply(work.get(name)!, line, family, text);
      }
    }
  }

  private apply(t: Map<string, string[]>, line: string, family: Family, text: string): void {
    const [verb, chain = '', ...rest] = line.split(' ');
    if (line.startsWith(':')) t.set(line.slice(1).split(' ')[0]!, []);
    else if (verb === '-A') this.chain(t, chain, family, text).push(this.jumpable(t, rest.join(' '), family, text));
    else if (verb === '-I') this.chain(t, chain, family, text).splice(Number(rest[0]) - 1, 0, this.jumpable(t, rest.slice(1).join(' '), family, text));
    else if (verb === '-D') {
      const rules = this.chain(t, chain, family, text);
      const at = rules.indexOf(rest.join(' '));
      if (at < 0) throw new RestoreError(family, 1, `no such rule: ${line}`, undefined, '');
      rules.splice(at, 1);
    } else if (verb === '-F') this.chain(t, chain, family, text).splice(0);
    else if (verb === '-X') t.delete(chain);
  }

  /** A rule that jumps to a chain needs the chain, as iptables does ("Couldn't load target"). */
  private jumpable(t: Map<string, string[]>, rule: string, family: Family, text: string): string {
    const target = / -[jg] ([A-Z][\w-]*)$/.exec(rule)?.[1];
    if (target !== undefined && !TARGETS.has(target)) this.chain(t, target, family, text);
    return rule;
  }

  private chain(t: Map<string, string[]>, name: string, family: Family, text: string): string[] {
    const rules = t.get(name);
    if (!rules) throw new RestoreError(family, 1, `chain ${name} does not exist`, undefined, text);
    return rules;
  }

  async listChain(family: Family, table: TableName, chain: string): Promise<string | undefined> {
    const rules = this.tablesOf(family).get(table)?.get(chain);
    return rules ? rules.map((r) => `-A ${chain} ${r}`).join('\n') : undefined;
  }

  /** What `nft flush ruleset` does to iptables-nft: every table gone. */
  wipe(): void {
    this.families.clear();
  }

  /** What `iptables -t TABLE -F` does: empty every chain of the table. */
  flushTable(table: TableName, family: Family = 'ipv4'): void {
    for (const rules of this.table(table, family).values()) rules.splice(0);
  }

  chains(table: string, family: Family = 'ipv4'): Map<string, string[]> {
    return this.table(table, family);
  }
}

/**
 * The seam to ipset(8), through execa with argument arrays (never a shell). dockward reads
 * which sets exist (the compiler leaves out rules naming a set that does not), and keeps
 * its own sets (DOCKWARD-*: a zone's many CIDRs) equal to the policy: a changed set is
 * filled under a twin name and swapped in, one `ipset restore`, so the rules that match
 * it never see it half full. Sets of other tools are only ever read.
 */
import { execa } from 'execa';
import type { OwnSet } from '../policy/types.js';
import type { Family } from '../ruleset/types.js';

export const OWN_SET_PREFIX = 'DOCKWARD-';

export interface Ipset {
  /** Every set on the host, by name, with its family. Empty when ipset is missing. */
  list(): Promise<Map<string, Family>>;
  /** The members of one set, as ipset prints them (CIDRs, /32 and /128 left out). */
  members(name: string): Promise<string[] | undefined>;
  restore(text: string): Promise<void>;
  destroy(name: string): Promise<boolean>;
}

/** `ipset list -t` → name → family ("Header: family inet …"). */
export function parseSetList(text: string): Map<string, Family> {
  const sets = new Map<string, Family>();
  let name: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('Name: ')) name = line.slice('Name: '.length).trim();
    const family = /^Header: family (inet6?)\b/.exec(line)?.[1];
    if (name && family) sets.set(name, family === 'inet6' ? 'ipv6' : 'ipv4');
  }
  return sets;
}

/** `ipset save NAME` → members in the form ipset prints: "1.2.3.0/24", single hosts without a prefix. */
export function parseMembers(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2] ?? '').filter(Boolean);
}

/** A CIDR as ipset prints it back: a single host without its prefix. */
function printed(cidr: string): string {
  return cidr.replace(/\/(32|128)$/, '');
}

const twin = (name: string) => `${name}-T`;

/** The restore input that makes set `s` hold exactly its CIDRs, swapped in whole. */
export function setRestoreText(s: OwnSet): string {
  const family = s.family === 'ipv4' ? 'inet' : 'inet6';
  const maxelem = Math.max(65536, s.cidrs.length * 2);
  const create = (name: string) => `create ${name} hash:net family ${family} maxelem ${maxelem} -exist`;
  return [
    create(s.name), create(twin(s.name)), `flush ${twin(s.name)}`,
    ...s.cidrs.map((c) => `add ${twin(s.name)} ${c} -exist`),
    `swap ${twin(s.name)} ${s.name}`, `destroy ${twin(s.name)}`, '',
  ].join('\n');
}

function sameMembers(live: readonly string[] | undefined, wanted: readonly string[]): boolean {
  if (!live || live.length !== wanted.length) return false;
  const have = new Set(live);
  return wanted.every((c) => have.has(printed(c)));
}

/** Load every own set whose members differ; returns the names loaded. */
export async function syncOwnSets(ipset: Ipset, sets: readonly OwnSet[]): Promise<string[]> {
  const loaded: string[] = [];
  for (const s of sets) {
    if (sameMembers(await ipset.members(s.name), s.cidrs)) continue;
    await ipset.restore(setRestoreText(s));
    loaded.push(s.name);
  }
  return loaded;
}

/**
 * Destroy own sets the policy no longer has; a set still matched by a live rule stays until
 * the next try. `listed`: what ipset list said moments ago (saves listing twice).
 */
export async function removeStaleSets(ipset: Ipset, wanted: readonly OwnSet[], listed?: ReadonlyMap<string, Family>): Promise<string[]> {
  const keep = new Set(wanted.map((s) => s.name));
  const stale = [...(listed ?? await ipset.list()).keys()].filter((n) => n.startsWith(OWN_SET_PREFIX) && !keep.has(n));
  const removed: string[] = [];
  for (const name of stale) if (await ipset.destroy(name)) removed.push(name);
  return removed;
}

export function systemIpset(): Ipset {
  return {
    async list() {
      const r = await execa('ipset', ['list', '-t'], { reject: false, timeout: 10_000 });
      return r.exitCode === 0 ? parseSetList(r.stdout) : new Map();
    },
    async members(name) {
      const r = await execa('ipset', ['save', name], { reject: false, timeout: 30_000 });
      return r.exitCode === 0 ? parseMembers(r.stdout) : undefined;
    },
    async restore(text) {
      const r = await execa('ipset', ['restore'], { input: text, reject: false, timeout: 60_000 });
      if (r.exitCode !== 0) throw new Error(`ipset restore failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
    },
    async destroy(name) {
      const r = await execa('ipset', ['destroy', name], { reject: false, timeout: 10_000 });
      return r.exitCode === 0;
    },
  };
}

/**
 * Taking over from Docker's own rules. A host that ran Docker with "iptables": true keeps
 * Docker's chains and rules after the switch (dockerd does not remove them when its rules
 * are off), and they would judge packets alongside dockward's. They are recognised by the
 * exact shapes Docker writes (see shared/reference/docker-native-rules.md) and removed;
 * DOCKER-USER, the operator's chain, is kept. Nothing else is touched.
 */
import type { LiveState } from './parse.js';
import type { TableName } from './types.js';

/** Docker's chains, every generation (20.10 to 29); DOCKER-USER is not among them. */
const DOCKER_CHAIN = /^DOCKER(-ISOLATION-STAGE-[12]|-FORWARD|-CT|-BRIDGE|-INTERNAL)?$/;

export interface Leftovers {
  /** Rules in built-in chains, as saved: deleted by their exact text. */
  readonly rules: readonly { readonly chain: string; readonly text: string }[];
  /** Docker's chains: flushed and deleted. */
  readonly chains: readonly string[];
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Shapes that name no bridge: Docker 28.0.0's FORWARD accept for replies into its ipset of
 * bridge subnets, and the SCTP checksum rule of 20.10-28 (mangle POSTROUTING, per SCTP port).
 */
function bridgeless(table: TableName): RegExp[] {
  switch (table) {
    case 'filter': return [/^-m set --match-set docker-ext-bridges-v[46] dst -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT$/];
    case 'mangle': return [/^-p sctp -m sctp --sport \d+ -j CHECKSUM --checksum-fill$/];
    default: return [];
  }
}

/** Rule shapes Docker writes in built-in chains for bridge BR (iptables-save form). */
function shapes(table: TableName, bridges: readonly string[]): RegExp[] {
  if (bridges.length === 0) return bridgeless(table);
  const br = `(?:${bridges.map(escape).join('|')})`;
  const port = '(?: -p \\w+ -m \\w+ --dport \\d+)?';
  switch (table) {
    case 'filter': return [...bridgeless(table),
      // Docker's own jump to DOCKER-USER: dockward puts its own (tagged) one first instead.
      /^-j DOCKER-USER$/,
      new RegExp(`^-o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT$`),
      new RegExp(`^-i ${br} (?:! )?-o ${br} -j (?:ACCEPT|DROP)$`),
    ];
    case 'nat': return [
      new RegExp(`^-s \\S+ ! -o ${br} -j (?:MASQUERADE|SNAT --to-source \\S+)$`),
      new RegExp(`^-o ${br} -m addrtype --src-type LOCAL -j (?:MASQUERADE|SNAT --to-source \\S+)$`),
      new RegExp(`^-s (\\S+/(?:32|128)) -d \\1${port} -j MASQUERADE$`),
    ];
    case 'mangle': return bridgeless(table);
    case 'raw': return [
      new RegExp(`^-d \\S+ ! -i ${br}${port} -j DROP$`),
      new RegExp(`^-d 127\\.\\S+ ! -i lo${port} -j DROP$`),
    ];
    default: return [];
  }
}

function jumpsToDocker(text: string): boolean {
  const target = /-[jg] (\S+)$/.exec(text)?.[1];
  return target !== undefined && DOCKER_CHAIN.test(target);
}

export function dockerLeftovers(table: TableName, live: LiveState, bridges: readonly string[]): Leftovers {
  const chains = live.get(table);
  if (!chains) return { rules: [], chains: [] };
  const patterns = shapes(table, bridges);
  const rules: { chain: string; text: string }[] = [];
  for (const chain of chains.values()) {
    if (chain.policy === undefined) continue;
    for (const r of chain.rules) {
      if (r.tag === undefined && (jumpsToDocker(r.text) || patterns.some((p) => p.test(r.text)))) rules.push({ chain: chain.name, text: r.text });
    }
  }
  return { rules, chains: [...chains.keys()].filter((c) => DOCKER_CHAIN.test(c)).sort() };
}

/**
 * The seam to conntrack(8). Used to revoke open flows the policy no longer allows: their
 * entries are deleted by source and original destination address/port, one call for all
 * the flows of such a pair (never `conntrack -F`), so their next packet is judged as new
 * by the rules in force.
 */
import { execa } from 'execa';
import type { Family } from '../ruleset/types.js';

export interface Flow {
  readonly protocol: string;
  /** Original direction: the client's address, and the host address/port it dialled. */
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  /** Reply direction's source: the container a translated flow goes to, or the host address when untranslated. */
  readonly replySrc?: string;
}

export interface Conntrack {
  list(family: Family, protocol: string, dport: number): Promise<Flow[]>;
  remove(family: Family, flow: Flow): Promise<void>;
}

/** First src=, dst= and dport= of a `conntrack -L` line are the original direction; the second src= is the reply's. */
export function parseFlows(text: string, protocol: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of text.split('\n')) {
    const [src, replySrc] = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dst = /\bdst=(\S+)/.exec(line)?.[1];
    const dport = /\bdport=(\d+)/.exec(line)?.[1];
    if (src && dst && dport) flows.push({ protocol, src, dst, dport: Number(dport), ...(replySrc ? { replySrc } : {}) });
  }
  return flows;
}

export function systemConntrack(): Conntrack {
  return {
    async list(family, protocol, dport) {
      const r = await execa('conntrack', ['-L', '-f', family, '-p', protocol, '--dport', `${dport}`], { reject: false, timeout: 10_000 });
      return parseFlows(r.stdout, protocol);
    },
    async remove(family, flow) {
      // Exit 1 means the entry was already gone: that is the wanted state.
      await execa('conntrack', ['-D', '-f', family, '-p', flow.protocol, '-s', flow.src, '-d', flow.dst, '--dport', `${flow.dport}`], { reject: false, timeout: 10_000 });
    },
  };
}

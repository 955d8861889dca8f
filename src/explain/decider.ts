/**
 * Who decided, read from a rule's note (compile writes `rules[N]:name`, `rules[N]`,
 * `default` or `host` on every rule that carries a policy decision) and put in words.
 */
import type { AccessLine } from '../compile/access.js';
import type { Decider } from './model.js';

const POLICY_NOTE = /^rules\[(\d+)\](?::(.+))?$/;

/** The decider a note names; undefined for notes that carry no decision (hook, icc…) or none. */
export function policyDecider(note: string | undefined): Decider | undefined {
  if (note === 'default') return { kind: 'default' };
  if (note === 'host') return { kind: 'host' };
  const m = note === undefined ? null : POLICY_NOTE.exec(note);
  if (!m) return undefined;
  return m[2] ? { kind: 'rule', index: Number(m[1]), name: m[2] } : { kind: 'rule', index: Number(m[1]) };
}

export function lineDecider(line: AccessLine): Decider {
  if (!line.rule) return { kind: 'default' };
  return line.rule.name ? { kind: 'rule', index: line.rule.index, name: line.rule.name } : { kind: 'rule', index: line.rule.index };
}

export function deciderText(d: Decider): string {
  switch (d.kind) {
    case 'rule': return d.name ? `rules[${d.index}] ${d.name}` : `rules[${d.index}]`;
    case 'default': return 'defaults.published';
    case 'host': return 'the host exemption (traffic from the host itself is not governed by rules)';
    case 'dockward': return `dockward's "${d.note}" rule`;
  }
}

export function sameDecider(a: Decider, b: Decider): boolean {
  return deciderText(a) === deciderText(b);
}

/**
 * Hash tags. iptables-save normalises rule text (and truncates long comments), so live
 * rules are compared with desired ones by a tag in each rule's comment, never by text.
 * A rule's tag covers its chain, its own words and the tag of the rule before it, so a
 * rule moved, edited, inserted or deleted anywhere in an owned chain changes what is read back.
 */
import { createHash } from 'node:crypto';
import type { Rule } from './types.js';
import { ruleBody, targetArgs } from './render.js';

export const TAG_LENGTH = 16;

export function shortHash(text: string, length = TAG_LENGTH): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function ruleTag(chain: string, previousTag: string, rule: Rule): string {
  const words = `${ruleBody(rule)} ${targetArgs(rule.target).join(' ')}`;
  return shortHash(`${chain}\n${previousTag}\n${words}\n${rule.note ?? ''}`);
}

/** A hook's tag depends only on where it sits and what it does. */
export function hookTag(table: string, builtin: string, rule: Rule): string {
  return ruleTag(`${table}/${builtin}`, 'hook', rule);
}

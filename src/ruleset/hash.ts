/**
 * Hash tags. iptables-save normalises rule text (and truncates long comments), so live
 * rules are compared with desired ones by a tag in each rule's comment, never by text.
 * A rule's tag covers its chain, its own words and the tag of the rule before it, so a
 * rule moved, edited, inserted or deleted anywhere in an owned chain changes what is read back.
 */
import type { Rule } from './types.js';
import { ruleWords } from './render.js';

export const TAG_LENGTH = 16;

/**
 * 64 bits of a fast, non-cryptographic string hash (two independently seeded 32-bit
 * multiply-xorshift lanes), as 16 hex characters. Tags detect accident and drift, not a
 * forger — whoever can edit the rules is root already — and a ruleset of 10,000
 * containers hashes tens of thousands of rules per compile, where sha256 dominated.
 */
export function fastHash(...parts: string[]): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  // Parts are fed one after another with a separator, without building one string of them.
  for (const text of parts) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ 10, 2654435761);
    h2 = Math.imul(h2 ^ 10, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

export function ruleTag(chain: string, previousTag: string, rule: Rule, body?: string): string {
  return fastHash(chain, previousTag, ruleWords(rule, body), rule.note ?? '');
}

export function shortHash(text: string, length = TAG_LENGTH): string {
  return fastHash(text).slice(0, length);
}

/** A hook's tag depends only on where it sits and what it does. */
export function hookTag(table: string, builtin: string, rule: Rule): string {
  return ruleTag(`${table}/${builtin}`, 'hook', rule);
}

/**
 * Hash tags. iptables-save normalises rule text (and truncates long comments), so live
 * rules are compared with desired ones by a tag in each rule's comment, never by text.
 * A rule's tag covers its chain, its own words and the tag of the rule before it, so a
 * rule moved, edited, inserted or deleted anywhere in an owned chain changes what is read back.
 */
import type { Rule } from './types.js';
import { ruleBody, targetText } from './render.js';

/**
 * 64 bits of a fast, non-cryptographic string hash (two independently seeded 32-bit
 * multiply-xorshift lanes), as 16 hex characters. Tags detect accident and drift, not a
 * forger — whoever can edit the rules is root already — and a ruleset of 10,000
 * containers hashes tens of thousands of rules per compile, where sha256 dominated.
 * Text is fed piece by piece (`text`), parts end with a separator (`end`): a part fed in
 * pieces hashes as the same part fed whole, so a rule's words are hashed from the pieces
 * its line is built of, without a string of them.
 */
export class Hash64 {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;

  text(text: string): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
    return this;
  }

  end(): this {
    this.h1 = Math.imul(this.h1 ^ 10, 2654435761);
    this.h2 = Math.imul(this.h2 ^ 10, 1597334677);
    return this;
  }

  part(text: string): this {
    return this.text(text).end();
  }

  hex(): string {
    const h1 = Math.imul(this.h1 ^ (this.h1 >>> 16), 2246822507) ^ Math.imul(this.h2 ^ (this.h2 >>> 13), 3266489909);
    const h2 = Math.imul(this.h2 ^ (this.h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return hex16(h1, h2);
  }
}

function hexDigit(n: number, shift: number): number {
  const nibble = (n >>> shift) & 15;
  return nibble < 10 ? 48 + nibble : 87 + nibble;
}

/** Both lanes as 16 hex digits, built as one string: the hot path makes one per rule. */
function hex16(h1: number, h2: number): string {
  return String.fromCharCode(
    hexDigit(h1, 28), hexDigit(h1, 24), hexDigit(h1, 20), hexDigit(h1, 16), hexDigit(h1, 12), hexDigit(h1, 8), hexDigit(h1, 4), hexDigit(h1, 0),
    hexDigit(h2, 28), hexDigit(h2, 24), hexDigit(h2, 20), hexDigit(h2, 16), hexDigit(h2, 12), hexDigit(h2, 8), hexDigit(h2, 4), hexDigit(h2, 0));
}

export function fastHash(...parts: string[]): string {
  const hash = new Hash64();
  for (const text of parts) hash.part(text);
  return hash.hex();
}

/** A rule's tag: its chain, the tag before it, its words (matches, then target), its note. */
export function ruleTag(chain: string, previousTag: string, rule: Rule, body = ruleBody(rule)): string {
  return wordsTag(chain, previousTag, body, targetText(rule.target), rule.note);
}

/** ruleTag from a rendered body and target: the words are `body target`, or the target alone. */
export function wordsTag(chain: string, previousTag: string, body: string, target: string, note = ''): string {
  const hash = new Hash64().part(chain).part(previousTag);
  if (body) hash.text(body).text(' ');
  return hash.part(target).part(note).hex();
}

/** A hook's tag depends only on where it sits and what it does. */
export function hookTag(table: string, builtin: string, rule: Rule): string {
  return ruleTag(`${table}/${builtin}`, 'hook', rule);
}

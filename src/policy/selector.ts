/**
 * Container selectors: which containers a rule is about. Parsing checks the operator's forms;
 * matching runs against untrusted container strings, so it is a plain wildcard matcher with
 * no regular expressions (nothing to escape, no pathological backtracking).
 */
import type { Container } from '../inventory/types.js';
import { type Checked, fail, ok, quote } from './issues.js';
import type { Selector } from './types.js';

/** A name glob; names are compared without Docker's leading "/", so a pattern with one never matches. */
export function parseNameGlob(text: string): Checked<string> {
  if (text === '') return fail('a container name pattern must not be empty');
  if (text.startsWith('/')) return fail(`container names have no leading "/": write ${quote(text.slice(1))}`);
  return ok(text);
}

export function parseImageGlob(text: string): Checked<string> {
  return text === '' ? fail('an image pattern must not be empty') : ok(text);
}

/** "key" = the label is present (any value); "key=value" = exactly that value. */
export function parseLabelSelector(text: string): Checked<NonNullable<Selector['label']>> {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  if (key === '') return fail(`label selector ${quote(text)} needs a key: "key" or "key=value"`);
  return ok(eq < 0 ? { key } : { key, value: text.slice(eq + 1) });
}

/** "project/service", globs allowed on each side. */
export function parseComposeSelector(text: string): Checked<NonNullable<Selector['compose']>> {
  const [project, service, ...rest] = text.split('/');
  if (!project || !service || rest.length > 0) {
    return fail(`compose selector ${quote(text)} must be "project/service" (globs allowed, such as "shop/*")`);
  }
  return ok({ project, service });
}

/** Undefined (no `containers` key) selects every container; a list selects when any entry does. */
export function matchesAny(selectors: readonly Selector[] | undefined, c: Container): boolean {
  return selectors === undefined || selectors.some((s) => matchesSelector(s, c));
}

/** Every key the selector gives must match. */
export function matchesSelector(s: Selector, c: Container): boolean {
  return (
    (s.name === undefined || globMatch(s.name, c.name)) &&
    (s.image === undefined || globMatch(s.image, c.image)) &&
    (s.label === undefined || labelMatches(s.label, c.labels)) &&
    (s.compose === undefined || composeMatches(s.compose, c.compose))
  );
}

function labelMatches(want: NonNullable<Selector['label']>, labels: Container['labels']): boolean {
  if (!Object.hasOwn(labels, want.key)) return false;
  return want.value === undefined || labels[want.key] === want.value;
}

function composeMatches(want: NonNullable<Selector['compose']>, have: Container['compose']): boolean {
  return have !== undefined && globMatch(want.project, have.project) && globMatch(want.service, have.service);
}

/**
 * Anchored, case-sensitive glob: "*" any run (also empty), "?" one character; everything else is
 * literal. Greedy with one backtrack point, so the cost stays O(pattern × text) at worst.
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = Array.from(pattern); // code points, so "?" takes one character, not half a surrogate pair
  const t = Array.from(text);
  let pi = 0;
  let ti = 0;
  let star = -1; // position of the last "*" seen, where a mismatch resumes
  let resume = 0; // text position that "*" has consumed up to
  while (ti < t.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = ti;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++resume;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * Policy problems as an operator reads them: `FILE: PATH: message`, one line per problem.
 * Leaf parsers (ports, addresses, selectors) return `Checked` values with a ready message;
 * zod's issues are translated here so that no raw zod text or JSON reaches the operator.
 */
import type { core } from 'zod';
import type { PolicyIssue } from './types.js';

/** The outcome of checking one value from the file: the normalised value or a message. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
export const fail = <T = never>(error: string): Checked<T> => ({ ok: false, error });

/** One line per problem; `FILE: message` when the problem is about the document itself. */
export function formatIssues(file: string, issues: readonly PolicyIssue[]): string {
  return issues.map((i) => (i.path === '' ? `${file}: ${i.message}` : `${file}: ${i.path}: ${i.message}`)).join('\n');
}

/** zod path → `rules[2].from[0]`, `zones.office.sources[1]`, `zones["odd name"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(seg))) out += out === '' ? String(seg) : `.${String(seg)}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** A value from the file as it appears in a message; long strings are cut so a line stays a line. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return quote(value);
  return String(value);
}

/** JSON quoting escapes newlines and control characters, so a hostile value cannot forge lines. */
export function quote(text: string): string {
  const cut = [...text].length > 64 ? `${[...text].slice(0, 61).join('')}...` : text;
  return JSON.stringify(cut);
}

const NOUNS: Record<string, string> = {
  array: 'a list',
  object: 'a map',
  record: 'a map',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

/** The per-parse zod error map: plain English for every issue a schema does not word itself. */
export function zodMessage(iss: core.$ZodRawIssue): string {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'is required';
      return `must be ${NOUNS[iss.expected] ?? iss.expected} (got ${describeValue(iss.input)})`;
    case 'invalid_value':
      return `${oneOf(iss.values)} (got ${describeValue(iss.input)})`;
    case 'too_small':
      return iss.origin === 'array' ? 'must not be an empty list' : 'is too short';
    case 'unrecognized_keys':
      return unknownKeysMessage(iss.keys, []);
    default:
      return 'is not valid here';
  }
}

function oneOf(values: readonly unknown[]): string {
  if (values.length === 1) return `must be ${String(values[0])}`;
  return `must be one of ${values.map(String).join(', ')}`;
}

/** Names the unknown key and, when it looks like a typo, the key that was probably meant. */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const named = keys.map(quote).join(', ');
  const head = keys.length === 1 ? `unknown key ${named}` : `unknown keys ${named}`;
  if (known.length === 0) return head;
  const guess = keys.length === 1 ? closest(keys[0] ?? '', known) : undefined;
  if (guess !== undefined) return `${head} (did you mean "${guess}"?)`;
  return `${head} (known keys: ${known.join(', ')})`;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  // More than two edits away is a different word, not a typo; a short word allows fewer ("to" is not "log").
  let bestDistance = Math.min(3, Math.ceil(word.length / 2) + 1);
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * zod's finished issues → policy issues. A union that failed reports the issues of the
 * branch whose shape the value had (a map that fails as a selector map, not "expected string").
 */
export function fromZodIssues(issues: readonly core.$ZodIssue[], prefix: readonly PropertyKey[] = []): PolicyIssue[] {
  return issues.flatMap((iss) => {
    const path = [...prefix, ...iss.path];
    if (iss.code === 'unrecognized_keys' && path.length === 0) return rootKeyIssues(iss);
    if (iss.code !== 'invalid_union') return [{ path: formatPath(path), message: iss.message }];
    const shaped = iss.errors.filter((branch) => !isTypeMismatch(branch));
    if (shaped.length === 1) return fromZodIssues(shaped[0] ?? [], path);
    return [{ path: formatPath(path), message: unionMessage(iss) }];
  });
}

/**
 * An unknown key of the document itself has no map to name, so the key is the path
 * (`FILE: extra: unknown key "extra" ...`), one line per key, as `FILE: PATH: message` wants.
 */
function rootKeyIssues(iss: core.$ZodIssueUnrecognizedKeys): PolicyIssue[] {
  if (iss.keys.length === 1) return [{ path: formatPath(iss.keys), message: iss.message }];
  // Several keys: the schema's message lists the known keys; each key gets its own guess.
  const known = / \(known keys: ([^)]*)\)$/.exec(iss.message)?.[1]?.split(', ') ?? [];
  return iss.keys.map((key) => ({ path: formatPath([key]), message: unknownKeysMessage([key], known) }));
}

/** A branch that failed on the value's kind (a map given where a word was expected counts too: `published: { … }`). */
function isTypeMismatch(branch: readonly core.$ZodIssue[]): boolean {
  const first = branch[0];
  if (!first || first.path.length > 0) return false;
  // A list's length check reports beside its type check ("" for a list: not a list, and too short).
  if (first.code === 'invalid_type') return true;
  const input = (first as { input?: unknown }).input;
  return branch.length === 1 && first.code === 'invalid_value' && typeof input === 'object' && input !== null;
}

function unionMessage(iss: core.$ZodIssueInvalidUnion): string {
  if (iss.input === undefined) return 'is required';
  const expected = iss.errors.flatMap((branch) => {
    const first = branch[0];
    return first?.code === 'invalid_type' ? [NOUNS[first.expected] ?? first.expected] : [];
  });
  const got = iss.input === undefined ? '' : ` (got ${describeValue(iss.input)})`;
  if (expected.length < 2) return `has the wrong form${got}`;
  return `must be ${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}${got}`;
}

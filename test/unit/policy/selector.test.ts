import { describe, expect, it } from 'vitest';
import type { Container } from '../../../src/inventory/types.js';
import { parsePolicy } from '../../../src/policy/load.js';
import { globMatch, matchesAny } from '../../../src/policy/selector.js';
import type { Selector } from '../../../src/policy/types.js';

function container(over: Partial<Container> = {}): Container {
  return {
    id: 'a'.repeat(64),
    name: 'shop-web-1',
    image: 'registry.example:5000/shop/web:1.2',
    labels: { 'com.example.tier': 'edge', 'com.example.empty': '' },
    compose: { project: 'shop', service: 'web' },
    networkMode: 'bridge',
    endpoints: [],
    ports: [],
    ...over,
  };
}

/** Selectors as the file writes them, normalised by the real loader. */
function selectors(containersYaml: string): readonly Selector[] | undefined {
  const result = parsePolicy(`version: 1\nrules:\n  - containers: ${containersYaml}\n`, 'policy.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.policy.rules[0]?.containers;
}

const matches = (containersYaml: string, c: Container = container()) => matchesAny(selectors(containersYaml), c);

describe('globMatch', () => {
  it('matches literally and anchored at both ends', () => {
    expect(globMatch('web', 'web')).toBe(true);
    expect(globMatch('web', 'web-1')).toBe(false);
    expect(globMatch('web', 'my-web')).toBe(false);
  });

  it('lets "*" stand for any run of characters, including none', () => {
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('*', 'anything at all')).toBe(true);
    expect(globMatch('web*', 'web')).toBe(true);
    expect(globMatch('*-web-*', 'shop-web-1')).toBe(true);
    expect(globMatch('a*b*c', 'aXXbYYbZc')).toBe(true);
    expect(globMatch('a*b*c', 'aXXbYYbZ')).toBe(false);
  });

  it('lets "?" stand for exactly one character, also outside ASCII', () => {
    expect(globMatch('web-?', 'web-1')).toBe(true);
    expect(globMatch('web-?', 'web-12')).toBe(false);
    expect(globMatch('web-?', 'web-')).toBe(false);
    expect(globMatch('caf?', 'café')).toBe(true);
    expect(globMatch('?', '🐳')).toBe(true);
  });

  it('is case-sensitive', () => {
    expect(globMatch('Web', 'web')).toBe(false);
  });

  it('treats regular-expression characters as literals', () => {
    expect(globMatch('a.b', 'a.b')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(globMatch('[ab]', 'a')).toBe(false);
    expect(globMatch('[ab]', '[ab]')).toBe(true);
    expect(globMatch('(x|y)+', '(x|y)+')).toBe(true);
    expect(globMatch('^web$', 'web')).toBe(false);
    expect(globMatch('a\\*', 'a\\bc')).toBe(true);
  });

  it('stays fast on patterns that make backtracking regular expressions explode', () => {
    const started = Date.now();
    expect(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('container selectors', () => {
  it('selects every container when a rule has no containers key', () => {
    expect(matchesAny(undefined, container())).toBe(true);
  });

  it('selects every container with "*"', () => {
    expect(matches('"*"')).toBe(true);
    expect(matches('"*"', container({ name: 'x', labels: {}, compose: undefined }))).toBe(true);
  });

  it('reads a plain string as a glob on the container name', () => {
    expect(matches('shop-web-1')).toBe(true);
    expect(matches('"shop-*"')).toBe(true);
    expect(matches('"*-db-*"')).toBe(false);
  });

  it('matches a label key alone when the label is present with any value', () => {
    expect(matches('{ label: com.example.tier }')).toBe(true);
    expect(matches('{ label: com.example.empty }')).toBe(true);
    expect(matches('{ label: com.example.missing }')).toBe(false);
  });

  it('matches "key=value" labels on the exact value, without globbing', () => {
    expect(matches('{ label: "com.example.tier=edge" }')).toBe(true);
    expect(matches('{ label: "com.example.tier=Edge" }')).toBe(false);
    expect(matches('{ label: "com.example.tier=ed*" }')).toBe(false);
    expect(matches('{ label: "com.example.empty=" }')).toBe(true);
    expect(matches('{ label: "com.example.tier=" }')).toBe(false);
  });

  it('keeps "=" after the first one as part of the label value', () => {
    const c = container({ labels: { query: 'a=b' } });
    expect(matches('{ label: "query=a=b" }', c)).toBe(true);
  });

  it('does not take inherited object properties for labels', () => {
    expect(matches('{ label: constructor }', container({ labels: {} }))).toBe(false);
  });

  it('matches compose "project/service" with globs on each side', () => {
    expect(matches('{ compose: shop/web }')).toBe(true);
    expect(matches('{ compose: "shop/*" }')).toBe(true);
    expect(matches('{ compose: "*/web" }')).toBe(true);
    expect(matches('{ compose: shop/db }')).toBe(false);
    expect(matches('{ compose: "*/*" }', container({ compose: undefined }))).toBe(false);
  });

  it('matches image globs against the image as the container was started with', () => {
    expect(matches('{ image: "registry.example:5000/shop/web:*" }')).toBe(true);
    expect(matches('{ image: "*/shop/web:1.?" }')).toBe(true);
    expect(matches('{ image: "shop/web" }')).toBe(false);
  });

  it('requires every key of a selector map to match', () => {
    expect(matches('{ name: "shop-*", label: com.example.tier, compose: shop/web, image: "*web*" }')).toBe(true);
    expect(matches('{ name: "shop-*", label: com.example.missing }')).toBe(false);
    expect(matches('{ name: "other-*", compose: shop/web }')).toBe(false);
  });

  it('selects a container when any selector of a list matches', () => {
    expect(matches('[db, { compose: shop/web }]')).toBe(true);
    expect(matches('[db, { compose: shop/db }]')).toBe(false);
  });
});

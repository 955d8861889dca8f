/**
 * Memoised per-container compilation. An event about one container changes one
 * container's inputs; the inventory reader hands every other container back as the very
 * same object, so its share is found by identity and not compiled again — and its chains,
 * being the same objects, are not rendered or hashed again either (ruleset/render.ts). The
 * output is exactly what a fresh compile gives: a container's share depends only on the
 * container, the family, the policy and the networks' bridges, and a change of policy or
 * networks empties the cache.
 */
import type { Container } from '../inventory/types.js';
import type { Policy } from '../policy/types.js';
import { memoise } from '../ruleset/render.js';
import type { Family, Rule } from '../ruleset/types.js';
import type { ContainerParts } from './published.js';

/** A container's chains and dispatch rules will be met again: remember their rendering too. */
function remembered(parts: ContainerParts): ContainerParts {
  const { mangle, nat, filter, dispatch } = parts;
  memoise([nat, filter, ...(mangle ? [mangle] : []), ...Object.values(dispatch).filter((r): r is Rule => r !== undefined)]);
  return parts;
}

export class CompileCache {
  private entries = new WeakMap<Container, Partial<Record<Family, ContainerParts>>>();
  private policy: Policy | undefined;
  private networks = '';

  /** Start a compile with these inputs; anything they change is forgotten. */
  begin(policy: Policy, networks: ReadonlyMap<string, string>): void {
    const signature = JSON.stringify([...networks]);
    if (policy !== this.policy || signature !== this.networks) this.entries = new WeakMap();
    this.policy = policy;
    this.networks = signature;
  }

  parts(container: Container, family: Family, compute: () => ContainerParts): ContainerParts {
    const known = this.entries.get(container) ?? {};
    const found = known[family] ?? remembered(compute());
    known[family] = found;
    this.entries.set(container, known);
    return found;
  }
}

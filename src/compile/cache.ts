/**
 * Memoised per-container compilation. An event about one container changes one
 * container's inputs; every other container compiles to the very same chain objects as
 * before, whose rendering (ruleset/render.ts) is cached too. So the work of a reconcile
 * after an event is proportional to what changed, not to the host's size — and the output
 * is exactly what a fresh compile gives (the key covers every input of containerParts).
 */
import type { Policy } from '../policy/types.js';
import type { Family } from '../ruleset/types.js';
import type { NetworkBridges } from './access.js';
import type { Publication } from './model.js';
import { containerParts, type ContainerParts } from './published.js';

export class CompileCache {
  private entries = new Map<string, ContainerParts>();
  private next = new Map<string, ContainerParts>();
  private policy: Policy | undefined;
  private networks = '';

  /** Start a compile: entries not used by it are dropped at the end. */
  begin(policy: Policy, networks: NetworkBridges): void {
    const signature = JSON.stringify([...networks]);
    // A new policy object or a renamed network can change any container's rules.
    if (policy !== this.policy || signature !== this.networks) this.entries.clear();
    this.policy = policy;
    this.networks = signature;
    this.next = new Map();
  }

  parts(p: Publication, policy: Policy, family: Family, networks: NetworkBridges): ContainerParts {
    const key = `${family}|${JSON.stringify([p.container, p.bridge, p.address, p.bindings])}`;
    const found = this.entries.get(key) ?? containerParts(p, policy, family, networks);
    this.next.set(key, found);
    return found;
  }

  end(): void {
    this.entries = this.next;
  }
}

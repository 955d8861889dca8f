/**
 * One reconcile: snapshot Docker, compile with the policy in force, apply, verify, then
 * revoke open flows that lost their access. "Docker unreachable" never means "no
 * containers": when the inventory cannot be read, the last good inventory is applied
 * again (so a wiped table is still repaired) and the run counts as failed, to be retried.
 */
import { compile, DEFAULT_OPTIONS, type BindingAccess, type Compiled } from '../compile/index.js';
import { CompileCache } from '../compile/cache.js';
import { foreignSetNames } from '../compile/sets.js';
import { applyIncremental, applyRuleset, assumedAfter, repairWiped, withoutProtocol, type ApplyResult, type Assumed } from '../dataplane/apply.js';
import type { Conntrack } from '../dataplane/conntrack.js';
import type { KernelState } from '../dataplane/kernel.js';
import { RestoreError, type Iptables } from '../dataplane/iptables.js';
import type { Inventory } from '../inventory/types.js';
import type { Logger } from '../log.js';
import type { OwnSet, Policy } from '../policy/types.js';
import { TABLE_ORDER, type Family, type Ruleset, type TableName } from '../ruleset/types.js';
import { changedBindings, flushStaleUdp, movedUdpBindings, revokeFlows } from './revoke.js';
import { parseSave } from '../ruleset/parse.js';
import { containerChain, isOwnedChain } from '../compile/names.js';
import { removeStaleSets, syncOwnSets, type Ipset } from '../dataplane/ipset.js';

/** Reasons that need no word from Docker: the rules were wiped or altered, or the policy changed. */
const REPAIRS = /^(wiped|drift|policy-reload)/;

/** Reasons after which nothing cached about Docker is trusted: start, a periodic resync, a reconnected event stream. */
const FULL_READ = new Set(['start', 'resync', 'docker-connected']);

/**
 * Containers to inspect again: those named by Docker events, or all of them after a full
 * read reason. A repair after drift or a policy reload needs no new inspection at all.
 */
export function changedContainers(reasons: readonly string[]): ReadonlySet<string> | 'all' {
  const ids = new Set<string>();
  for (const reason of reasons) {
    if (FULL_READ.has(reason)) return 'all';
    const id = reason.startsWith('docker:') ? reason.split(':')[3] : undefined;
    if (id) ids.add(id);
  }
  return ids;
}

/**
 * A reconcile for Docker events only, or the cleanup of the deletions they left: planned
 * against what the last apply left, no read of the live state (the read-back follows).
 */
function isHot(reasons: readonly string[]): boolean {
  return reasons.length > 0 && reasons.every((r) => r.startsWith('docker:') || r === CLEANUP);
}

/**
 * A repair of wiped tables names them ("wiped:ipv4/filter,ipv4/nat"): a family none of its
 * reasons names is as the last apply left it, as far as anyone has seen, and is planned
 * the hot way (no save: an idle ip6tables-save at 1,000 containers took a core for half a
 * second beside the restore that repairs). The read-back that follows looks at it anyway.
 */
function untouched(reasons: readonly string[], family: Family): boolean {
  return wipedTables(reasons, family)?.length === 0;
}

/** With wipes alone among the reasons, the tables of `family` they name; undefined when anything else is asked too. */
function wipedTables(reasons: readonly string[], family: Family): TableName[] | undefined {
  if (reasons.length === 0 || !reasons.every((r) => r.startsWith('wiped:'))) return undefined;
  const named = reasons.flatMap((r) => r.slice('wiped:'.length).split(','));
  return TABLE_ORDER.filter((t) => named.includes(`${family}/${t}`));
}

/** The batched cleanup after events that left deletions for later (daemon.ts). */
export const CLEANUP = 'cleanup';

export interface ReconcileState {
  policy: Policy;
  policyHash?: string;
  policyError?: readonly string[];
  lastApply?: { at: number; durationMs: number; changes: number };
  lastError?: { at: number; message: string };
  dockerReachable: boolean;
  applies: number;
  repairs: number;
  stats?: Compiled['stats'];
  desired: readonly Ruleset[];
  /** What the last compile left out (a missing ipset, an ignored label), for status. */
  notes?: readonly string[];
}

export interface ReconcilerDeps {
  /** Reads the inventory; `changed` names containers that events said changed, or 'all'. */
  readonly readInventory: (changed: ReadonlySet<string> | 'all') => Promise<Inventory>;
  /** The inventory to fall back on when Docker does not answer (persisted across restarts). */
  readonly fallbackInventory?: Inventory;
  readonly iptables: Iptables;
  readonly conntrack?: Conntrack;
  readonly log: Logger;
  readonly onInventory?: (inventory: Inventory) => Promise<void>;
  /** Called after an apply planned against the assumed live state: verify soon, off the hot path. */
  readonly onHotApply?: () => void;
  /** Called before and after the restores of a full apply that writes (start, a resync that finds a difference, repair): the change monitor pauses meanwhile. */
  readonly onFullWrite?: (writing: boolean) => void;
  /** Called when a hot apply left deletions for later: a cleanup reconcile is due (off the hot path). */
  readonly onDeferred?: () => void;
  /** Checks and sets the kernel settings the rules need (dataplane/kernel.ts); absent in unit tests. */
  readonly kernel?: (bridges: readonly string[]) => Promise<KernelState>;
  /** Which ipsets exist, and dockward's own (dataplane/ipset.ts); absent in unit tests. */
  readonly ipset?: Ipset;
  readonly now?: () => number;
}

export class Reconciler {
  readonly state: ReconcileState;
  private readonly now: () => number;
  private lastInventory: Inventory | undefined;
  /** Per family, what the last apply left in force (for planning the hot path) and the protocols the kernel refused. */
  private readonly applied = new Map<Family, { assumed: Assumed; skipped: readonly string[] }>();
  private readonly cache = new CompileCache();
  /** Per binding key, from the last apply: its access, and where it led. */
  private access = new Map<string, BindingAccess>();
  /** Whether the last Docker read in this process succeeded ('unknown' before the first). */
  private docker: 'unknown' | 'read' | 'failed' = 'unknown';
  private writing = false;
  /** The last `ipset list`, and the policy it was listed for. */
  private sets: { policy: Policy; listed: Map<string, Family> } | undefined;
  /** The own sets (as compiled) last loaded or found loaded. */
  private loadedSets: readonly OwnSet[] | undefined;
  /** Set while a reconcile waits on Docker: hands it an urgent repair reason. */
  private dockerWait: ((reason: string) => void) | undefined;
  /**
   * Wipes this reconcile or an earlier one that failed for another cause (Docker away) has
   * repaired: asked again (a retry of the same reasons), they are checked against the live
   * tables, which writes nothing when they are whole, instead of rewriting the tables blind.
   */
  private readonly repairedWipes = new Set<string>();

  constructor(private readonly deps: ReconcilerDeps, policy: Policy, policyHash?: string) {
    this.state = { policy, dockerReachable: false, applies: 0, repairs: 0, desired: [], ...(policyHash ? { policyHash } : {}) };
    this.now = deps.now ?? Date.now;
  }

  setPolicy(policy: Policy, hash?: string): void {
    this.state.policy = policy;
    if (hash) this.state.policyHash = hash;
    else delete this.state.policyHash;
    delete this.state.policyError;
  }

  /** True while rules are being written: the watchdog stays quiet then, so dockward's own writes are never drift. */
  get applying(): boolean {
    return this.writing;
  }

  /**
   * An urgent repair (wiped, drift, policy reload) while this reconciler waits on Docker:
   * applied at once from the last good inventory, without waiting for the answer. False
   * when nothing waits on Docker (the caller queues the reason) or the reason needs Docker.
   */
  interrupt(reason: string): boolean {
    if (!this.dockerWait || !this.lastInventory || !REPAIRS.test(reason)) return false;
    const hand = this.dockerWait;
    this.dockerWait = undefined;
    hand(reason);
    return true;
  }

  async reconcile(asked: readonly string[]): Promise<boolean> {
    const ok = await this.reconcileOnce(asked);
    if (ok) this.repairedWipes.clear();
    return ok;
  }

  private async reconcileOnce(asked: readonly string[]): Promise<boolean> {
    const started = this.now();
    let reasons = this.notRepairedAgain(asked);
    const changed = changedContainers(reasons);
    const repairs = reasons.filter((r) => REPAIRS.test(r));
    // A repair needs no new inspection: the last good inventory says what the rules must be.
    if (this.lastInventory && this.docker === 'read' && repairs.length === reasons.length) {
      return this.applyFrom(this.lastInventory, reasons, started);
    }
    // Docker may hang (a frozen dockerd answers only at the timeout): repair first, then wait.
    if (this.lastInventory && repairs.length > 0) {
      if (!(await this.applyFrom(this.lastInventory, repairs, started))) return false;
      for (const r of repairs) if (r.startsWith('wiped:')) this.repairedWipes.add(r);
      reasons = this.notRepairedAgain(reasons);
    }
    const inventory = await this.inventory(changed);
    if (!inventory) return false;
    const ok = await this.applyFrom(inventory.value, reasons, started);
    if (!ok || !inventory.fresh) return false;
    delete this.state.lastError;
    return true;
  }

  private notRepairedAgain(reasons: readonly string[]): string[] {
    return reasons.map((r) => (this.repairedWipes.has(r) ? 'drift:after-repair' : r));
  }

  /** Compile `inventory` with the policy in force and apply it; false when an apply failed (previous rules kept). */
  private async applyFrom(inventory: Inventory, reasons: readonly string[], started: number): Promise<boolean> {
    this.writing = true;
    try {
      return await this.compileAndApply(inventory, reasons, started);
    } finally {
      this.writing = false;
    }
  }

  private async compileAndApply(inventory: Inventory, reasons: readonly string[], started: number): Promise<boolean> {
    const ipsets = await this.existingSets(reasons);
    const compiled = compile(inventory, this.state.policy, { ...DEFAULT_OPTIONS, ...(ipsets ? { ipsets } : {}) }, this.cache);
    // Said once, when it first applies: the resync every 30 s would repeat it thousands of times a day. `status` lists them all.
    const said = new Set(this.state.notes);
    for (const note of compiled.notes) if (!said.has(note)) this.deps.log.warn({ note }, 'left out of the rules');
    this.state.notes = compiled.notes;
    // dockward's own sets are loaded before the rules that match them (dataplane/ipset.ts).
    const sets = await this.loadOwnSets(compiled, reasons);
    if (!sets) return false;
    // Each family is its own transaction, run side by side (iptables and ip6tables share
    // nothing but the xtables lock, which `-w` waits for): one failing leaves the other
    // applied, and is reported.
    // A full apply that writes is not watched for changes (they would all be dockward's
    // own); a hot apply's few lines are, and the read-back it asks for looks at them anyway.
    // One that finds nothing to write (most resyncs) leaves the watch alone.
    let writing = false;
    const beforeWrite = () => {
      if (writing) return;
      writing = true;
      this.deps.onFullWrite?.(true);
    };
    const outcomes = await Promise.all(compiled.rulesets.map(async (ruleset) => {
      try {
        return { result: await this.applyOne(ruleset, reasons, beforeWrite) };
      } catch (error) {
        const detail = error instanceof RestoreError ? { stderr: error.stderr, excerpt: error.excerpt } : {};
        this.deps.log.error({ reasons, family: ruleset.family, ...detail }, `apply failed (${ruleset.family}), previous rules kept`);
        return { failure: `${ruleset.family}: ${(error as Error).message}` };
      }
    })).finally(() => { if (writing) this.deps.onFullWrite?.(false); });
    const failures = outcomes.flatMap((o) => (o.failure ? [o.failure] : []));
    const applied = outcomes.flatMap((o) => (o.result ? [o.result.applied] : []));
    const changes = outcomes.reduce((n, o) => n + (o.result?.changes.length ?? 0), 0);
    if (failures.length > 0) return this.fail(`apply failed, previous rules kept: ${failures.join('; ')}`, reasons);
    this.state.lastApply = { at: this.now(), durationMs: this.now() - started, changes };
    Object.assign(this.state, { stats: compiled.stats, desired: applied });
    await this.kernelState(compiled.bridges);
    await this.removeStaleSets(compiled, ipsets);
    await this.revoke(compiled);
    return true;
  }

  private async inventory(changed: ReadonlySet<string> | 'all'): Promise<{ value: Inventory; fresh: boolean } | undefined> {
    try {
      const value = await this.readDocker(changed);
      this.state.dockerReachable = true;
      this.docker = 'read';
      this.lastInventory = value;
      await this.deps.onInventory?.(value);
      return { value, fresh: true };
    } catch (error) {
      this.state.dockerReachable = false;
      const message = `docker unreachable, rules in force kept: ${(error as Error).message}`;
      this.fail(message, []);
      // Docker answered before in this run: its last answer is the best knowledge there is.
      if (this.docker !== 'unknown') {
        this.docker = 'failed';
        return this.lastInventory && { value: this.lastInventory, fresh: false };
      }
      const value = await this.withoutDocker();
      if (value) this.lastInventory = value;
      return value && { value, fresh: false };
    }
  }

  /**
   * Docker absent since start. Rules an earlier run left are the best knowledge there is
   * and stay — re-applied from the saved inventory when they came from it (a restart while
   * Docker is down). Otherwise (after a reboot the kernel holds none) only base rules go
   * in: hooks, canaries and, for the networks the saved inventory knew, the refusal of new
   * connections into their subnets. The saved containers' DNATs are not: dockerd may give
   * their addresses to other containers as it brings them back.
   */
  private async withoutDocker(): Promise<Inventory | undefined> {
    const live = parseSave(await this.deps.iptables.save('ipv4'));
    const saved = this.deps.fallbackInventory;
    const owned = [...live.values()].some((table) => [...table.keys()].some(isOwnedChain));
    if (!owned) return { networks: saved?.networks ?? [], containers: [] };
    const fromSaved = saved?.containers.some((c) => [...live.values()].some((table) => table.has(containerChain(c.id))));
    return fromSaved ? saved : undefined;
  }

  /** Waits for Docker's answer; urgent repairs that come meanwhile (interrupt) are applied at once. */
  private async readDocker(changed: ReadonlySet<string> | 'all'): Promise<Inventory> {
    const answer = this.deps.readInventory(changed).then((value) => ({ value }), (error: unknown) => ({ error }));
    try {
      for (;;) {
        const repair = new Promise<string>((resolve) => { this.dockerWait = resolve; });
        const first = await Promise.race([answer, repair]);
        if (typeof first !== 'string') {
          if ('error' in first) throw first.error;
          return first.value;
        }
        this.dockerWait = undefined;
        this.deps.log.info({ reason: first }, 'repairing from the last good inventory while Docker has not answered');
        if (this.lastInventory) await this.applyFrom(this.lastInventory, [first], this.now());
      }
    } finally {
      this.dockerWait = undefined;
    }
  }

  /**
   * After a Docker event, plan against what the last apply left (no iptables-save on the
   * hot path) and ask for a read-back soon; everything else — start, resync, drift, a retry
   * — reads the live rules first. A hot restore that fails falls back to the full path.
   */
  private async applyOne(ruleset: Ruleset, reasons: readonly string[], beforeWrite: () => void): Promise<ApplyResult> {
    const last = this.applied.get(ruleset.family);
    const desired = last ? last.skipped.reduce(withoutProtocol, ruleset) : ruleset;
    const hot = last !== undefined && (isHot(reasons) || untouched(reasons, ruleset.family));
    if (hot) {
      const tidy = reasons.includes(CLEANUP);
      const fast = await applyIncremental(this.deps.iptables, desired, last.assumed, this.now, { tidy }).catch((error: Error) => {
        this.deps.log.warn({ family: ruleset.family, err: error.message }, 'live rules were not as last applied; applying in full');
        return undefined;
      });
      if (fast) {
        if (fast.changes.length > 0) this.deps.onHotApply?.();
        // Deletions were left out of the hot path (emptied chains, stale dispatch lines): clean up soon.
        if (fast.deferred) this.deps.onDeferred?.();
        this.applied.set(ruleset.family, { assumed: assumedAfter(fast.applied, fast.live), skipped: last.skipped });
        return this.logApply(ruleset, reasons, fast);
      }
    }
    const wiped = last !== undefined && !desired.exclusive ? wipedTables(reasons, ruleset.family) : undefined;
    if (last && wiped && wiped.length > 0) {
      const repaired = await repairWiped(this.deps.iptables, desired, last.assumed, wiped, beforeWrite, this.now).catch((error: Error) => {
        this.deps.log.warn({ family: ruleset.family, err: error.message }, 'the wiped tables were not as a wipe leaves them; applying in full');
        return undefined;
      });
      if (repaired) {
        // Planned without a save: read back soon, off this path.
        this.deps.onHotApply?.();
        this.applied.set(ruleset.family, { assumed: assumedAfter(repaired.applied), skipped: last.skipped });
        return this.logApply(ruleset, reasons, repaired);
      }
    }
    const result = await applyRuleset(this.deps.iptables, ruleset, this.now, { beforeWrite });
    const skipped = result.skipped.length > 0 ? result.skipped : last?.skipped ?? [];
    this.applied.set(ruleset.family, { assumed: assumedAfter(result.applied), skipped });
    return this.logApply(ruleset, reasons, result);
  }

  private logApply(ruleset: Ruleset, reasons: readonly string[], result: ApplyResult): ApplyResult {
    for (const protocol of result.skipped) this.deps.log.warn({ family: ruleset.family, protocol }, 'the kernel refused these rules: publications of this protocol left out');
    if (result.changes.length === 0) return result;
    this.state.applies++;
    if (reasons.some((r) => r.startsWith('drift') || r.startsWith('wiped'))) this.state.repairs++;
    this.deps.log.info({
      reasons, family: ruleset.family, changes: result.changes.map((c) => `${c.kind} ${c.table}/${c.chain}`),
      bytes: result.restoreBytes, ms: result.durationMs, ...(result.through ? { through: result.through } : {}),
    }, 'applied');
    return result;
  }

  private async kernelState(bridges: readonly string[]): Promise<void> {
    const state = await this.deps.kernel?.(bridges);
    if (state?.changed.length) this.deps.log.info({ changed: state.changed }, 'kernel settings set');
    for (const problem of state?.problems ?? []) this.deps.log.warn({ problem }, 'kernel setting not as the rules need');
  }

  /**
   * Which ipsets exist, for the compiler and for finding stale own sets: listed once per
   * reconcile, except on the hot path (Docker events only) under an unchanged policy, which
   * reuses the last listing — an unchanged state runs no command at all.
   */
  private async existingSets(reasons: readonly string[]): Promise<Map<string, Family> | undefined> {
    if (!this.deps.ipset) return undefined;
    if (isHot(reasons) && this.sets?.policy === this.state.policy) return this.sets.listed;
    const listed = await this.deps.ipset.list();
    this.sets = { policy: this.state.policy, listed };
    return listed;
  }

  /**
   * A set the policy names that did not exist at the last listing (fail2ban not started
   * yet) may have appeared since: the rules that use it are due then. Costs one `ipset
   * list` while such a set is missing, nothing otherwise.
   */
  async missingSetAppeared(): Promise<boolean> {
    if (!this.deps.ipset || !this.sets) return false;
    const missing = foreignSetNames(this.state.policy).filter((name) => !this.sets!.listed.has(name));
    if (missing.length === 0) return false;
    const listed = await this.deps.ipset.list();
    return missing.some((name) => listed.has(name));
  }

  /** Own sets are verified (ipset save) except on the hot path when the policy's sets are those last loaded. */
  private async loadOwnSets(compiled: Compiled, reasons: readonly string[]): Promise<boolean> {
    if (!this.deps.ipset || compiled.ownSets.length === 0) return true;
    // Own sets come from the policy alone: the same policy hands out the very same array.
    if (isHot(reasons) && compiled.ownSets === this.loadedSets) return true;
    try {
      const loaded = await syncOwnSets(this.deps.ipset, compiled.ownSets);
      if (loaded.length > 0) this.deps.log.info({ sets: loaded }, 'ipsets loaded');
      this.loadedSets = compiled.ownSets;
      return true;
    } catch (error) {
      this.loadedSets = undefined;
      return this.fail(`cannot load dockward's ipsets, previous rules kept: ${(error as Error).message}`, []);
    }
  }

  /** Sets no rule matches any more; one still referenced (the other family not yet applied) goes next time. */
  private async removeStaleSets(compiled: Compiled, listed: Map<string, Family> | undefined): Promise<void> {
    if (!this.deps.ipset || !listed) return;
    const removed = await removeStaleSets(this.deps.ipset, compiled.ownSets, listed);
    for (const name of removed) listed.delete(name);
    for (const set of compiled.ownSets) listed.set(set.name, set.family);
    if (removed.length > 0) this.deps.log.info({ sets: removed }, 'ipsets removed');
  }

  private async revoke(compiled: Compiled): Promise<void> {
    const changed = changedBindings(this.access, compiled.access);
    const moved = movedUdpBindings(this.access, compiled.access);
    this.access = new Map(compiled.access.map((a) => [a.key, a]));
    if (!this.deps.conntrack) return;
    try {
      const removed = await revokeFlows(this.deps.conntrack, changed);
      if (removed.length > 0) this.deps.log.info({ flows: removed }, 'revoked open flows no longer allowed');
      const stale = await flushStaleUdp(this.deps.conntrack, moved);
      if (stale.length > 0) this.deps.log.info({ flows: stale }, 'deleted stale UDP flows of new or moved bindings');
    } catch (error) {
      this.deps.log.warn({ err: (error as Error).message }, 'could not revoke open flows');
    }
  }

  private fail(message: string, reasons: readonly string[], detail: object = {}): false {
    this.state.lastError = { at: this.now(), message };
    this.deps.log.error({ reasons, ...detail }, message);
    return false;
  }
}

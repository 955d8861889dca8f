/**
 * Revoked access takes effect for flows already open. After an apply, every binding whose
 * access changed is checked: its open flows are listed and those whose source the new
 * access list no longer allows are deleted from conntrack, so their next packet is judged
 * as new (and refused). A source matched only through an interface cannot be told from
 * conntrack; such flows are deleted too, and an allowed one simply continues when its next
 * packet is accepted again.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { BindingAccess } from '../compile/index.js';
import type { Conntrack, Flow } from '../dataplane/conntrack.js';
import type { Action } from '../policy/types.js';

/** Computed once per object: an unchanged container hands back the very same bindings (compile cache). */
const fingerprints = new WeakMap<BindingAccess, string>();

function fingerprint(access: BindingAccess): string {
  let known = fingerprints.get(access);
  if (known === undefined) fingerprints.set(access, (known = JSON.stringify([access.target, access.lines])));
  return known;
}

/** Bindings present before and after whose access (or target) changed; the same object is unchanged. */
export function changedBindings(previous: ReadonlyMap<string, BindingAccess>, next: readonly BindingAccess[]): BindingAccess[] {
  return next.filter((a) => {
    const before = previous.get(a.key);
    return before !== undefined && before !== a && fingerprint(before) !== fingerprint(a);
  });
}

function contains(cidr: string, address: string): boolean {
  const [net = '', prefix = '0'] = cidr.split('/');
  const list = new BlockList();
  const type = isIPv6(net) ? 'ipv6' : 'ipv4';
  list.addSubnet(net, Number(prefix), type);
  return list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}

/** The verdict for a flow's source; 'unknown' when an interface-only line would decide. */
export function verdictFor(access: BindingAccess, source: string): Action | 'unknown' {
  for (const line of access.lines) {
    if (line.cidr !== undefined && !contains(line.cidr, source)) continue;
    // Membership of an ipset is the kernel's to know, like the interface a flow came in on.
    if (line.iface !== undefined || line.set !== undefined) return 'unknown';
    return line.action;
  }
  return 'unknown';
}

function concerns(access: BindingAccess, flow: Flow): boolean {
  return flow.dport === access.hostPort && (access.hostIp === undefined || flow.dst === access.hostIp);
}

/**
 * One `conntrack -D` takes every flow of a (source, host address, port): a client with a
 * thousand open connections costs one exec, not a thousand. Returns the flows removed.
 */
async function removeAll(conntrack: Conntrack, family: BindingAccess['family'], flows: readonly Flow[]): Promise<Flow[]> {
  const done = new Set<string>();
  for (const flow of flows) {
    const key = `${flow.protocol} ${flow.src} ${flow.dst} ${flow.dport}`;
    if (done.has(key)) continue;
    done.add(key);
    await conntrack.remove(family, flow);
  }
  return [...flows];
}

/** Delete the open flows of changed bindings that are no longer allowed; returns them. */
export async function revokeFlows(conntrack: Conntrack, changed: readonly BindingAccess[]): Promise<Flow[]> {
  const removed: Flow[] = [];
  for (const access of changed) {
    const flows = await conntrack.list(access.family, access.protocol, access.hostPort);
    const refused = flows.filter((flow) => concerns(access, flow) && verdictFor(access, flow.src) !== 'allow');
    removed.push(...await removeAll(conntrack, access.family, refused));
  }
  return removed;
}

/** UDP bindings that are new or now lead elsewhere (previous: by key): flows recorded before may still go to the old place. */
export function movedUdpBindings(previous: ReadonlyMap<string, Pick<BindingAccess, 'target'>>, next: readonly BindingAccess[]): BindingAccess[] {
  return next.filter((a) => a.protocol === 'udp' && previous.get(a.key)?.target !== a.target);
}

/**
 * UDP has no handshake: a datagram sent to a published port before its DNAT existed (or
 * while it pointed at an earlier container) made a conntrack entry that keeps the whole
 * flow going there — to dockerd's idle socket, or to a container that is gone. Such
 * entries for the host port are deleted, so the next datagram is translated afresh
 * (moby#44688, keyed on the host port as moby#53384 found necessary).
 */
export async function flushStaleUdp(conntrack: Conntrack, moved: readonly BindingAccess[]): Promise<Flow[]> {
  const removed: Flow[] = [];
  for (const access of moved) {
    const target = access.target.replace(/^\[/, '').replace(/\]?:\d+$/, '');
    const flows = await conntrack.list(access.family, 'udp', access.hostPort);
    // A source's flows to the port all go: any of them may still lead to the old place.
    const stale = flows.filter((flow) => concerns(access, flow) && flow.replySrc !== target);
    removed.push(...await removeAll(conntrack, access.family, stale));
  }
  return removed;
}

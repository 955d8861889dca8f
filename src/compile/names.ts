/**
 * Chain names. Every owned chain starts with DOCKWARD- and fits iptables' 28 characters.
 * Per-container chains carry a hash of the container id, never its name: names come from
 * the Docker API and are untrusted.
 */
import { Hash64 } from '../ruleset/hash.js';
import { CHAIN_PREFIX, type Target } from '../ruleset/types.js';

/** Entry chains, one per built-in chain hooked (same name in each table that has that hook). */
export const PREROUTING = `${CHAIN_PREFIX}PREROUTING`;
export const OUTPUT = `${CHAIN_PREFIX}OUTPUT`;
export const POSTROUTING = `${CHAIN_PREFIX}POSTROUTING`;
export const FORWARD = `${CHAIN_PREFIX}FORWARD`;
/** Dispatch from the entry chains to each published container's chain. */
export const PUBLISH = `${CHAIN_PREFIX}PUBLISH`;
/** mangle: marks a packet from a source the policy rejects, so the POSTROUTING guard can drop it if filter is gone. */
export const REJECT_MARK = `${CHAIN_PREFIX}REJECT-MARK`;
/**
 * mangle: marks a rejected packet and ends mangle's part for it, so filter, later, rejects it
 * (or the POSTROUTING guard drops it when filter is gone) — whatever mangle rules follow.
 */
export const REJECT_LATER = `${CHAIN_PREFIX}REJECT-LATER`;
/** nat: masquerade for a container reaching its own published port through a host address. */
export const HAIRPIN = `${CHAIN_PREFIX}HAIRPIN`;
/** The operator's chain Docker has always offered: jumped to first in FORWARD, never flushed. */
export const DOCKER_USER = 'DOCKER-USER';
/** An empty chain in every table: its absence means the table was wiped. */
export const CANARY = `${CHAIN_PREFIX}CANARY`;

const CONTAINER_PREFIX = `${CHAIN_PREFIX}C-`;
/** DOCKWARD-C- plus 16 hex digits of a 64-bit hash of the container id: 27 characters. */
export function containerChain(containerId: string): string {
  return hashedChain(CONTAINER_PREFIX, containerId);
}

/** Direct connections to one container (filter, mangle, raw). */
export function connectionChain(containerId: string): string {
  return hashedChain(`${CHAIN_PREFIX}K-`, containerId);
}

/**
 * One ACCEPT, jumped to from the connection chains of the containers this one may reach:
 * emptied when it stops, it ends every such path at once, while the stale lines that name
 * it wait for the cleanup.
 */
export function sourceChain(containerId: string): string {
  return hashedChain(`${CHAIN_PREFIX}S-`, containerId);
}

/** Whether a rule's target is a jump into a source chain: the rule is an acceptance, read as one by logging and explain. */
export function isSourceJump(target: Target): boolean {
  return target.kind === 'jump' && target.chain.startsWith(`${CHAIN_PREFIX}S-`);
}

/** Outbound traffic of one container: forwarded elsewhere (E-), to the host itself (L-). */
export function egressChain(containerId: string): string {
  return hashedChain(`${CHAIN_PREFIX}E-`, containerId);
}

export function egressHostChain(containerId: string): string {
  return hashedChain(`${CHAIN_PREFIX}L-`, containerId);
}

/** Traffic from the host itself to one container (host.toContainers). */
export function hostChain(containerId: string): string {
  return hashedChain(`${CHAIN_PREFIX}H-`, containerId);
}

/** What each of a container's own chains implements. */
export type OwnChainRole = 'published' | 'connections' | 'as a source of connections' | 'outbound' | 'outbound to the host' | 'from the host';

/** Every chain that belongs to one container alone, whichever tables hold it. */
export function ownChains(containerId: string): readonly (readonly [string, OwnChainRole])[] {
  return [[containerChain(containerId), 'published'], [connectionChain(containerId), 'connections'],
    [sourceChain(containerId), 'as a source of connections'], [egressChain(containerId), 'outbound'],
    [egressHostChain(containerId), 'outbound to the host'], [hostChain(containerId), 'from the host']];
}

/** Dispatch of the host's own new connections to the chain of the container they go to. */
export const FROM_HOST = `${CHAIN_PREFIX}FROM-HOST`;

/** Dispatch of outbound traffic to the chain of the container that sends it. */
export const EGRESS = `${CHAIN_PREFIX}EGRESS`;
export const EGRESS_HOST = `${CHAIN_PREFIX}EGRESS-HOST`;
/** filter/mangle INPUT entry: traffic to the host itself. */
export const INPUT = `${CHAIN_PREFIX}INPUT`;

/** Dispatch of direct container-to-container traffic to the chain of its destination. */
export const CONNECT = `${CHAIN_PREFIX}CONNECT`;

/**
 * A prefix and 16 hex digits (64 bits) of Hash64(key). Docker draws container ids at
 * random, so the names of a host's containers collide by accident only (about one chance
 * in 10^10 at 100,000 containers); nobody can choose an id through the API. Fast enough to
 * derive every name afresh at every compile (sha256 was a tenth of a cold compile).
 */
function hashedChain(prefix: string, key: string): string {
  return prefix + new Hash64().text(key).hex().toUpperCase();
}

export function isOwnedChain(name: string): boolean {
  return name.startsWith(CHAIN_PREFIX);
}

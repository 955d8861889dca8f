/**
 * Docker's matrix against dockward's: equal, except for the differences the README lists
 * as deliberate. Each deliberate difference names a class of cells and what each side
 * says there; a difference outside every class, or of another shape, is unexpected.
 */
import type { Matrix, Probe } from './matrix.js';
import { CONTAINERS, type ContainerSpec } from './scenario.js';

type Says = 'answers' | 'silent';

export interface Deliberate {
  readonly name: string;
  readonly applies: (p: Probe) => boolean;
  /** What Docker 20.10 says in this class, where the two differ... */
  readonly docker: Says;
  /** ...and what dockward says there. The side marked silent must be silent in the whole class. */
  readonly dockward: Says;
}

const spec = (name: string): ContainerSpec => CONTAINERS.find((c) => c.name === name)!;

export const DELIBERATE: readonly Deliberate[] = [
  {
    // Docker 28's fix (raw PREROUTING drop per container address), which 20.10 lacks.
    name: 'direct routed access to container addresses from a client namespace',
    applies: (p) => p.source.kind === 'client' && p.dest.kind === 'direct',
    docker: 'answers',
    dockward: 'silent',
  },
  {
    // Docker 28's fix for moby#45610 (a 127.0.0.1 publication is the host's alone), made
    // general: dockward drops whatever a neighbour sends to 127/8, since route_localnet on the
    // bridges would otherwise let such packets reach any loopback service.
    name: 'a neighbour sending to 127.0.0.1, whatever is published there',
    applies: (p) => p.source.kind === 'neighbour' && p.dest.kind === 'published',
    docker: 'answers',
    dockward: 'silent',
  },
  {
    // Docker 29: isolation is about direct container-to-container traffic only.
    name: 'a container reaching a published port of another network through a host address',
    applies: (p) => p.source.kind === 'container' && p.dest.kind === 'published' && spec(p.dest.target).network !== p.source.network,
    docker: 'silent',
    dockward: 'answers',
  },
];

function says(p: Probe, v: string | null): Says | 'other' {
  if (v === null) return 'silent';
  return p.dest.kind !== 'egress' && v === p.dest.target ? 'answers' : 'other';
}

export interface Difference {
  readonly probe: Probe;
  readonly docker: string | null;
  readonly dockward: string | null;
  /** The deliberate difference that explains it, if any. */
  readonly deliberate?: Deliberate;
}

export function diff(probes: readonly Probe[], docker: Matrix, dockward: Matrix): Difference[] {
  const out: Difference[] = [];
  for (const p of probes) {
    const a = docker.get(p.key) ?? null;
    const b = dockward.get(p.key) ?? null;
    if (a === b) continue;
    const rule = DELIBERATE.find((r) => r.applies(p));
    const explained = rule && says(p, a) === rule.docker && says(p, b) === rule.dockward;
    out.push({ probe: p, docker: a, dockward: b, ...(explained ? { deliberate: rule } : {}) });
  }
  return out;
}

export const show = (v: string | null | undefined): string => v ?? '-';

export function describeDifference(d: Difference): string {
  return `${d.probe.key}: docker says ${show(d.docker)}, dockward says ${show(d.dockward)}`;
}

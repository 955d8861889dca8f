/**
 * The network a container was started on (`--network`, or Docker's default bridge): the one
 * Docker publishes its ports through. Both the compiler (which endpoint publishes) and the
 * inventory reader (whether a container not yet started can be published) ask it.
 */
import type { Container } from './types.js';

/** Whether the network (by id or name, as Docker names it in a container's endpoints) is the one `c` was started on. */
export function startedOn(c: Container, network: { readonly id: string; readonly name: string }): boolean {
  const mode = c.networkMode === 'default' ? 'bridge' : c.networkMode;
  return network.name === mode || network.id === mode;
}

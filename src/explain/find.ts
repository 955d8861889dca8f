/**
 * CONTAINER on the command line → one container of the inventory: by name (Docker's
 * leading slash optional), else by id prefix. Anything else is bad input (exit 2) with
 * the names the user probably meant.
 */
import { InputError } from '../errors.js';
import type { Container, Inventory } from '../inventory/types.js';

/** Edit distance counting a swap of neighbours as one edit ("wbe" is one edit from "web"). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}

/** Names close to `query`: a few edits away, or one containing the other. */
export function closeNames(names: readonly string[], query: string): string[] {
  const q = query.toLowerCase();
  const scored = names.map((name) => {
    const n = name.toLowerCase();
    const contains = n.includes(q) || q.includes(n);
    return { name, score: contains ? 0 : distance(n, q) };
  });
  const limit = Math.max(1, Math.floor(query.length / 3));
  return scored.filter((s) => s.score <= limit).sort((a, b) => a.score - b.score || a.name.localeCompare(b.name)).slice(0, 5).map((s) => s.name);
}

export function findContainer(inventory: Inventory, query: string): Container {
  const wanted = query.replace(/^\//, '');
  const byName = inventory.containers.find((c) => c.name === wanted);
  if (byName) return byName;
  const byId = /^[0-9a-f]+$/i.test(wanted) ? inventory.containers.filter((c) => c.id.startsWith(wanted.toLowerCase())) : [];
  if (byId.length === 1 && byId[0]) return byId[0];
  if (byId.length > 1) {
    throw new InputError([`dockward: container id prefix "${wanted}" is ambiguous: ${byId.map((c) => `${c.name} (${c.id.slice(0, 12)})`).join(', ')}`]);
  }
  const close = closeNames(inventory.containers.map((c) => c.name), wanted);
  const hint = close.length > 0 ? `; close names: ${close.join(', ')}` : `; ${inventory.containers.length} containers are running, none with a close name`;
  throw new InputError([`dockward: no running container is named "${wanted}" or has an id starting with it${hint}`]);
}

/** The explanation as text for a terminal: one block per binding, the sentence first. */
import { deciderText } from './decider.js';
import { isAnyone } from './lines.js';
import type { Answer, BindingView, ChainRef, Explanation, HostDirectView, OutboundView, PathLine, PathStep, PeerView } from './model.js';

/** Names and images come from Docker: keep control characters off the terminal. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}

function headline(e: Explanation): string[] {
  const c = e.container;
  const nets = c.networks.map((n) => [printable(n.name), n.ipv4, n.ipv6].filter(Boolean).join(' ')).join(', ');
  const out = [`${printable(c.name)} (id ${c.id.slice(0, 12)}, image ${printable(c.image)}${nets ? `, network ${nets}` : `, network mode ${printable(c.networkMode)}`})`];
  out.push(`policy: ${e.policy}`);
  for (const family of new Set(e.chains.map((r) => r.family))) {
    const refs = e.chains.filter((r) => r.family === family);
    const roles = [...new Set(refs.map((r) => r.role))].map((role) => `${role}: ${chainList(refs.filter((r) => r.role === role))}`);
    out.push(`chains (${family}): ${roles.join('; ')}`);
  }
  return out;
}

/** "mangle, nat, filter DOCKWARD-C-…" when one chain sits in several tables. */
function chainList(refs: readonly ChainRef[]): string {
  const names = [...new Set(refs.map((r) => r.chain))];
  return names.map((n) => `${refs.filter((r) => r.chain === n).map((r) => r.table).join(', ')} ${n}`).join(', ');
}

function bindingHead(b: BindingView, name: string): string {
  if (b.routed) {
    const at = b.family === 'ipv4' ? b.containerAddress : `[${b.containerAddress}]`;
    return `${b.containerPort}/${b.protocol} at ${at} (routed network ${printable(b.routed.network)}: no NAT, clients dial the container's address; host port ${b.hostPort} is not used) → ${printable(name)}:${b.containerPort}`;
  }
  const where = b.hostIp ?? (b.family === 'ipv4' ? 'every host address' : 'every IPv6 host address');
  return `${b.hostPort}/${b.protocol} on ${where} → ${printable(name)}:${b.containerPort}`;
}

function table(rows: readonly (readonly [string, string, string])[]): string[] {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `    ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
}

function lineRows(b: BindingView): [string, string, string][] {
  return b.lines.map((l, i) => [isAnyone(l) ? (i === 0 ? 'everyone' : 'everyone else') : l.source, l.action, deciderText(l.decidedBy)]);
}

/** The host is not governed by `rules`: its line stands apart, before the list it is not part of. */
function hostLine(b: BindingView): string {
  const by = b.fromHost.decidedBy ? ` by ${deciderText(b.fromHost.decidedBy)}` : '';
  return `  the host itself (not governed by rules): ${b.fromHost.allowed ? 'allow' : 'refused'}${by}`;
}

function outcome(a: Answer): string {
  const by = a.decidedBy ? ` by ${deciderText(a.decidedBy)}` : '';
  const to = a.deliveredTo ? `${a.deliveredTo.container ? `${printable(a.deliveredTo.container)} ` : ''}${a.deliveredTo.address}:${a.deliveredTo.port}` : '';
  switch (a.verdict) {
    case 'delivered': return a.allowed ? `allowed${by}: delivered to ${to}` : `not to this container: delivered to ${to}${by}`;
    case 'dropped': return a.rejectUnseen
      ? `refused (dropped: a container gets no reset here, see README Limitations)${by}: the kernel sends the ${a.rejectUnseen} out of the bridge port before NAT puts back the address the container dialled, so the container sees a timeout`
      : `refused: dropped${by}`;
    case 'rejected': return `refused: rejected with ${a.rejectWith ?? 'an error'}${by}`;
    case 'host': return 'not translated: reaches the host itself, not a container (dockerd listens there)';
    case 'forwarded': return `not to this container: routed on to ${a.destination}`;
  }
}

function step(s: PathStep): string {
  const rule = s.rule ? `${s.rule} ` : '';
  return `      ${s.table.padEnd(6)} ${s.chain} #${s.index}: ${rule}${s.target}${s.note ? `  (${s.note})` : ''}`;
}

/** The steps that decide or change something; plain jumps and hooks are in the JSON path only. */
function telling(s: PathStep): boolean {
  return (s.note !== undefined && s.note !== 'hook') || !/^-[jg] (DOCKWARD-|DOCKER-USER$)|^-j RETURN$/.test(s.target);
}

function answerLines(a: Answer): string[] {
  const on = a.iface === 'host' ? ' (the host itself)' : a.iface === null ? ' on an unnamed interface' : ` on ${a.iface}`;
  const out = [`  from ${a.source}${on} to ${a.destination}:${a.port}: ${outcome(a)}`, ...a.path.filter(telling).map(step)];
  for (const chain of a.notTraced ?? []) out.push(`      (${chain} is the operator's chain: its rules, if any, are not part of this answer)`);
  return out;
}

function bindingLines(b: BindingView, name: string): string[] {
  const list = b.lines.length > 0 ? ['  other sources (the policy\'s rules), first match wins:', ...table(lineRows(b))] : [];
  return ['', `${bindingHead(b, name)}: ${b.summary}`, hostLine(b), ...list, ...(b.answer ? answerLines(b.answer) : [])];
}

function pathRows(lines: readonly PathLine[]): string[] {
  return table(lines.map((l) => [printable(l.what), l.action, l.decidedBy ? deciderText(l.decidedBy) : '']));
}

function outboundLines(o: OutboundView): string[] {
  return ['', `outbound from ${o.address} (network ${printable(o.network)}), first match wins:`, ...pathRows(o.lines)];
}

function clauseOf(p: PeerView): string {
  return p.lines.map((l) => `${printable(l.what)}: ${l.action}${l.decidedBy ? ` by ${deciderText(l.decidedBy)}` : ''}`).join('; ');
}

/** At most ten names; the JSON lists them all. */
function few(names: readonly string[]): string {
  const MAX = 10;
  return names.length <= MAX ? names.join(', ') : `${names.slice(0, MAX).join(', ')} and ${names.length - MAX} more (--json lists them)`;
}

/** Peers with the same answer on one line: "app, other: any port: deny by isolation between networks". */
function peerLines(peers: readonly PeerView[], direction: 'in' | 'out'): string[] {
  const out: string[] = [];
  for (const address of new Set(peers.filter((p) => p.direction === direction).map((p) => p.address))) {
    const mine = peers.filter((p) => p.direction === direction && p.address === address);
    const groups = new Map<string, string[]>();
    for (const p of mine) groups.set(clauseOf(p), [...(groups.get(clauseOf(p)) ?? []), printable(p.peer)]);
    out.push('', direction === 'in' ? `direct from other containers to ${address}, first match wins:` : `direct from ${address} to other containers, first match wins:`);
    for (const [clause, names] of groups) out.push(`    ${few([...new Set(names)])}: ${clause}`);
  }
  return out;
}

function hostDirectLines(h: HostDirectView): string[] {
  return ['', `from the host itself straight to ${h.address}, first match wins:`, ...pathRows(h.lines)];
}

export function renderText(e: Explanation): string {
  const out = headline(e);
  if (e.nothing) out.push(`${printable(e.container.name)}: ${e.nothing}`);
  for (const b of e.bindings) out.push(...bindingLines(b, e.container.name));
  for (const o of e.outbound) out.push(...outboundLines(o));
  out.push(...peerLines(e.peers, 'in'), ...peerLines(e.peers, 'out'));
  for (const h of e.hostDirect) out.push(...hostDirectLines(h));
  if (e.warnings.length > 0) out.push('', ...e.warnings.map((w) => `warning: ${w}`));
  return `${out.join('\n')}\n`;
}

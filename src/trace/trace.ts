/**
 * A new connection's way through the host, hook by hook, as the kernel takes it:
 *
 *   from outside:  raw PREROUTING → mangle PREROUTING → nat PREROUTING → routing →
 *                  mangle FORWARD → filter FORWARD → mangle POSTROUTING → nat POSTROUTING
 *   from the host: raw OUTPUT → mangle OUTPUT → nat OUTPUT → routing →
 *                  filter OUTPUT → mangle POSTROUTING → nat POSTROUTING
 *
 * A destination that is still one of the host's own after nat goes to INPUT (mangle, then
 * filter); what INPUT lets in ends with "host": the host itself answers (dockerd listens
 * on every published port), not a container. Built-in chains hold only dockward's hooks,
 * policy ACCEPT.
 */
import { isIP } from 'node:net';
import type { CtState, Ruleset, TableName } from '../ruleset/types.js';
import { familyOfAddress, inCidr, isLocal, prefixLength } from './addresses.js';
import { TableWalk, type Outcome } from './chains.js';
import { FROM_HOST, TraceError, type HostView, type Packet, type Step, type Trace, type Verdict } from './types.js';

const BUILTINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** Where a stage leaves the packet: a verdict ends the journey, undefined goes on. */
type Stage = () => Verdict | undefined;

function parseDnat(to: string, dport: number): { address: string; port: number } {
  if (isIP(to) === 6) return { address: to, port: dport };
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(to) ?? /^([\d.]+)(?::(\d+))?$/.exec(to);
  if (!m?.[1] || !isIP(m[1])) throw new TraceError(`cannot trace DNAT --to-destination ${to}`);
  return { address: m[1], port: m[2] ? Number(m[2]) : dport };
}

function checkInput(ruleset: Ruleset, packet: Packet): void {
  for (const address of [packet.source, packet.destination]) {
    if (familyOfAddress(address) !== packet.family) throw new TraceError(`${address} is not an ${packet.family} address`);
  }
  if (ruleset.family !== packet.family) throw new TraceError(`an ${packet.family} packet cannot cross the ${ruleset.family} ruleset`);
  for (const [table, t] of Object.entries(ruleset.tables)) {
    for (const h of t.hooks) if (!BUILTINS.has(h.builtin)) throw new TraceError(`table ${table}: hook in unknown built-in chain ${h.builtin}`);
  }
}

class Journey {
  private destination: string;
  private dport: number;
  private mark = 0;
  private ct: CtState[] | undefined;
  private inIface = '';
  private outIface = '';
  private bridge: string | undefined;
  private dnat: Trace['dnat'];
  private snat: Trace['snat'];
  private readonly steps: Step[] = [];
  private readonly opaque = new Set<string>();

  constructor(private readonly ruleset: Ruleset, private readonly packet: Packet, private readonly host: HostView) {
    this.destination = packet.destination;
    this.dport = packet.dport;
  }

  run(): Trace {
    const stages = this.packet.inIface === FROM_HOST ? this.fromHost() : this.fromOutside();
    for (const stage of stages) {
      const verdict = stage();
      if (verdict) return this.result(verdict);
    }
    throw new TraceError('the trace ended without a verdict');
  }

  private fromOutside(): Stage[] {
    return [
      () => { this.inIface = this.packet.inIface; return undefined; },
      () => this.hook('raw', 'PREROUTING'),
      () => this.track(),
      () => this.hook('mangle', 'PREROUTING'),
      () => this.hook('nat', 'PREROUTING'),
      () => this.route(),
      () => this.hook('mangle', 'FORWARD'),
      () => this.hook('filter', 'FORWARD'),
      // A forwarded packet keeps its inbound device in POSTROUTING (ip_output passes skb->dev).
      () => this.hook('mangle', 'POSTROUTING'),
      () => this.hook('nat', 'POSTROUTING'),
      () => this.sent(),
    ];
  }

  private fromHost(): Stage[] {
    return [
      // Locally generated packets are routed before OUTPUT (a local destination leaves through lo)
      // and have no inbound device anywhere on their way.
      () => { this.outIface = this.routeOf(this.destination).iface; return undefined; },
      () => this.hook('raw', 'OUTPUT'),
      () => this.track(),
      () => this.hook('mangle', 'OUTPUT'),
      () => this.hook('nat', 'OUTPUT'),
      () => this.route(),
      () => this.hook('filter', 'OUTPUT'),
      () => this.hook('mangle', 'POSTROUTING'),
      () => this.hook('nat', 'POSTROUTING'),
      () => this.sent(),
    ];
  }

  /** Conntrack has seen the packet: a new connection from here on. */
  private track(): undefined {
    this.ct = ['NEW'];
    return undefined;
  }

  private routeOf(address: string): { iface: string; bridge?: string; local?: true } {
    if (isLocal(address, this.host.localAddresses)) return { iface: 'lo', local: true };
    const bridges = this.host.bridges.filter((b) => inCidr(address, b.cidr));
    bridges.sort((a, b) => prefixLength(b.cidr) - prefixLength(a.cidr));
    const best = bridges[0];
    return best ? { iface: best.iface, bridge: best.iface } : { iface: this.packet.via ?? '' };
  }

  /** Delivered locally: INPUT judges it, with the host's own packets arriving on lo. */
  private input(): Verdict {
    if (this.packet.inIface === FROM_HOST) this.inIface = 'lo';
    this.outIface = '';
    return this.hook('mangle', 'INPUT') ?? this.hook('filter', 'INPUT') ?? { kind: 'host' };
  }

  private route(): Verdict | undefined {
    const r = this.routeOf(this.destination);
    if (r.local) return this.input();
    this.outIface = r.iface;
    this.bridge = r.bridge;
    return undefined;
  }

  private sent(): Verdict {
    const to = { address: this.destination, port: this.dport };
    return this.bridge ? { kind: 'delivered', ...to, iface: this.bridge } : { kind: 'forwarded', ...to };
  }

  private hook(table: TableName, builtin: string): Verdict | undefined {
    const view = {
      family: this.packet.family, protocol: this.packet.protocol, source: this.packet.source,
      destination: this.destination, dport: this.dport, inIface: this.inIface, outIface: this.outIface,
      ct: this.ct, origDestination: this.packet.destination, origDport: this.packet.dport,
      localAddresses: this.host.localAddresses,
    };
    const walk = new TableWalk(table, this.ruleset.tables[table], view, this.mark, this.steps, this.opaque);
    const out = walk.hook(builtin);
    this.mark = walk.mark;
    return this.apply(out, table, builtin);
  }

  private apply(out: Outcome, table: TableName, builtin: string): Verdict | undefined {
    switch (out.kind) {
      case 'continue':
      case 'accept': return undefined;
      case 'drop': return { kind: 'dropped', step: out.step };
      case 'reject': return { kind: 'rejected', with: out.with, step: out.step };
      case 'dnat': {
        if (table !== 'nat' || (builtin !== 'PREROUTING' && builtin !== 'OUTPUT')) throw new TraceError(`DNAT in ${table} ${builtin}`);
        const to = parseDnat(out.to, this.dport);
        this.destination = to.address;
        this.dport = to.port;
        this.ct = [...(this.ct ?? []), 'DNAT'];
        this.dnat = { ...to, step: out.step };
        return undefined;
      }
      case 'snat':
        if (table !== 'nat' || builtin !== 'POSTROUTING') throw new TraceError(`source NAT in ${table} ${builtin}`);
        this.snat = { to: out.to, step: out.step };
        return undefined;
    }
  }

  private result(verdict: Verdict): Trace {
    return {
      packet: this.packet, verdict, steps: this.steps, opaque: [...this.opaque],
      ...(this.dnat ? { dnat: this.dnat } : {}), ...(this.snat ? { snat: this.snat } : {}),
    };
  }
}

/** The way of one new connection through `ruleset`; throws TraceError on anything it cannot evaluate faithfully. */
export function trace(ruleset: Ruleset, packet: Packet, host: HostView): Trace {
  checkInput(ruleset, packet);
  return new Journey(ruleset, packet, host).run();
}

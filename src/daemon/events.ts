/**
 * Docker's event stream as triggers. The stream reconnects with backoff when dockerd goes
 * away or restarts; every (re)connection asks for a full resync, since events may have
 * been missed while it was down.
 */
import type Docker from 'dockerode';
import type { Logger } from '../log.js';

/** `create` is no trigger (a created container has no rules yet); it is asked for to tell a `docker run`'s connect from others, and to read the container before its start holds it. */
const EVENTS = { type: ['container', 'network'] as ('container' | 'network')[], event: ['create', 'start', 'die', 'destroy', 'connect', 'disconnect', 'unpause', 'pause', 'rename'] };

export interface EventWatch {
  stop(): void;
}

/**
 * Told of containers between their create and their start (inventory/docker.ts
 * InventoryReader), so that one can be published at its network connect, before its start.
 */
export interface StartWatch {
  created(id: string): void;
  /** True when the container's rules can go in now (or once the promise says so): the connect is then a trigger. */
  connected(id: string, networkId: string): boolean | Promise<boolean>;
  /**
   * True when the rules in force hold the container exactly as its start shows it: the
   * start is then no trigger (a run for it would only make the next `docker run`'s connect
   * wait out a coalescing pause), and the next run reads it.
   */
  started(id: string): boolean;
  /** Its end, a rename, a disconnect before its start: the early view is dropped. True when rules were made from it. */
  dropped(id: string): boolean;
}

/** A reason to reconcile; `urgent` skips the scheduler's pauses. */
export interface Trigger {
  readonly reason: string;
  readonly urgent?: boolean;
  /**
   * The connect or start of a container created with no other near it (ALONE_MS): a
   * `docker run` on its own, not part of a burst. The scheduler runs it at once.
   */
  readonly alone?: boolean;
}

/** `docker` must have no request timeout: an idle event stream is normal. */
export function watchEvents(docker: Docker, log: Logger, onEvent: (trigger: Trigger) => void, starts?: StartWatch, now: () => number = Date.now): EventWatch {
  let stopped = false;
  let backoff = 250;
  let stream: NodeJS.ReadableStream | undefined;
  let timer: NodeJS.Timeout | undefined;

  const reconnect = (why: string): void => {
    stream = undefined;
    if (stopped) return;
    log.warn({ why, retryMs: backoff }, 'docker event stream lost; reconnecting');
    timer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 2_000);
  };

  const connect = (): void => {
    if (stopped) return;
    docker.getEvents({ filters: EVENTS }).then((s) => {
      stream = s;
      backoff = 250;
      log.info('docker event stream connected');
      onEvent({ reason: 'docker-connected', urgent: true });
      const triggers = new EventTriggers(starts, now);
      let buffered = '';
      s.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const trigger = line.trim() ? triggers.triggerFor(line) : undefined;
          if (trigger instanceof Promise) void trigger.then((t) => { if (t !== undefined && !stopped) onEvent(t); });
          else if (trigger !== undefined) onEvent(trigger);
        }
      });
      s.on('end', () => reconnect('end'));
      s.on('error', (e: Error) => reconnect(e.message));
    }, (e: Error) => reconnect(e.message));
  };

  connect();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}

interface DockerEvent {
  readonly type: string;
  readonly action: string;
  readonly id?: string;
  /** A network event's network. */
  readonly network?: string;
}

const FULL_ID = /^[0-9a-f]{64}$/;

/**
 * A network event names its container in Actor.Attributes.container, the network in
 * Actor.ID; an id that is not 64 hex digits is left out (it goes no further than the
 * reason string and a Docker API path).
 */
function parseEvent(line: string): DockerEvent | undefined {
  try {
    const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    const isNetwork = e.Type === 'network';
    const id = isNetwork ? e.Actor?.Attributes?.['container'] : e.Actor?.ID;
    const network = isNetwork ? e.Actor?.ID : undefined;
    return {
      type: e.Type ?? '?', action: e.Action ?? '?',
      ...(id && FULL_ID.test(id) ? { id } : {}), ...(network && FULL_ID.test(network) ? { network } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Container events after which what was known of a container before its start no longer holds. */
const DROPS = new Set(['die', 'destroy', 'rename']);

/** Creates closer than this are one burst. */
const ALONE_MS = 250;
/** Long enough for a container's connect and start to come after its create. */
const KEEP_CREATED_MS = 30_000;

/** Containers not running are few; a bound keeps `docker create`s never started from piling up. */
const NOT_RUNNING_MAX = 10_000;

/**
 * Events → triggers, as "docker:TYPE:ACTION:CONTAINER-ID" (the reconciler re-inspects the
 * container named). `docker run` (and `docker start`) connects the container to its
 * networks some time before its start ends. A connect for a container seen created or dead
 * and not started since is a trigger only when `starts` says its rules can go in then (a
 * container created while watched, with fixed host ports: see InventoryReader): otherwise
 * its apply would find nothing to do and make the start that follows wait out the
 * scheduler's coalescing pause, so its start is the trigger, and runs at once. A start
 * whose container was published at its connect exactly as it starts is no trigger. A
 * connect of a running container (`docker network connect`) is always one.
 */
export class EventTriggers {
  private readonly notRunning = new Set<string>();
  /**
   * When each container was created, for ALONE_MS: a container whose create had no other
   * near it is a `docker run` on its own (one after another, as a user or a deploy script
   * runs them), applied at once; creates close together are a burst (compose up, parallel
   * `docker run`s: dockerd creates them ~8 a second here), which the scheduler coalesces.
   */
  private readonly created = new Map<string, number>();
  constructor(private readonly starts?: StartWatch, private readonly now: () => number = Date.now) {}

  /** A trigger, none, or — for a connect that waits on the container's create inspect — a trigger to come. */
  triggerFor(line: string): Trigger | undefined | Promise<Trigger | undefined> {
    const e = parseEvent(line);
    if (!e) return { reason: 'docker:event' };
    // A created container has no rules yet (its connect or its start is the trigger), a created network none.
    if (e.action === 'create') {
      if (e.type === 'container' && e.id !== undefined) {
        this.track(e.action, e.id);
        this.starts?.created(e.id);
      }
      return undefined;
    }
    const reason = `docker:${e.type}:${e.action}${e.id !== undefined ? `:${e.id}` : ''}`;
    if (e.type === 'container' && e.id !== undefined) {
      this.track(e.action, e.id);
      // Published at its connect exactly as it starts: nothing to apply.
      if (e.action === 'start' && this.starts?.started(e.id)) return undefined;
      if (DROPS.has(e.action)) this.starts?.dropped(e.id);
      return e.action === 'start' && this.alone(e.id) ? { reason, alone: true } : { reason };
    }
    if (e.type === 'network' && e.id !== undefined && this.notRunning.has(e.id)) {
      if (e.action === 'connect') return this.connected(e.id, e.network, reason, this.alone(e.id));
      // A start that failed after its connect: rules made for it go at once (its address is free again).
      if (e.action === 'disconnect' && this.starts?.dropped(e.id)) return { reason, urgent: true };
    }
    return { reason };
  }

  private connected(id: string, network: string | undefined, reason: string, alone: boolean): Trigger | undefined | Promise<Trigger | undefined> {
    const now = network === undefined ? false : this.starts?.connected(id, network) ?? false;
    const trigger: Trigger = alone ? { reason, alone } : { reason };
    if (now instanceof Promise) return now.then((yes) => (yes ? trigger : undefined));
    return now ? trigger : undefined;
  }

  /** No other container was created within ALONE_MS of `id`'s create. */
  private alone(id: string): boolean {
    const mine = this.created.get(id);
    if (mine === undefined) return false;
    for (const [other, at] of this.created) if (other !== id && Math.abs(at - mine) < ALONE_MS) return false;
    return true;
  }

  private track(action: string, id: string): void {
    if (action === 'create') {
      const now = this.now();
      // Only creates near enough to matter are kept.
      for (const [other, at] of this.created) if (now - at > KEEP_CREATED_MS) this.created.delete(other);
      this.created.set(id, now);
    }
    if (action === 'create' || action === 'die') {
      if (this.notRunning.size >= NOT_RUNNING_MAX) this.notRunning.clear();
      this.notRunning.add(id);
    } else if (action === 'start' || action === 'destroy') {
      this.notRunning.delete(id);
    }
  }
}

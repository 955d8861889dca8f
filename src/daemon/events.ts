/**
 * Docker's event stream as triggers. The stream reconnects with backoff when dockerd goes
 * away or restarts; every (re)connection asks for a full resync, since events may have
 * been missed while it was down.
 */
import type Docker from 'dockerode';
import type { Logger } from '../log.js';

/** `create` is no trigger (a created container has no rules yet); it is asked for to tell a `docker run`'s connect from others. */
const EVENTS = { type: ['container', 'network'] as ('container' | 'network')[], event: ['create', 'start', 'die', 'destroy', 'connect', 'disconnect', 'unpause', 'pause', 'rename'] };

export interface EventWatch {
  stop(): void;
}

/** `docker` must have no request timeout: an idle event stream is normal. */
export function watchEvents(docker: Docker, log: Logger, onEvent: (reason: string) => void): EventWatch {
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
      onEvent('docker-connected');
      const triggers = new EventTriggers();
      let buffered = '';
      s.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const reason = line.trim() ? triggers.reasonFor(line) : undefined;
          if (reason !== undefined) onEvent(reason);
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

interface DockerEvent { readonly type: string; readonly action: string; readonly id?: string }

/**
 * A network event names its container in Actor.Attributes.container; an id that is not
 * 64 hex digits is left out (it goes no further than the reason string).
 */
function parseEvent(line: string): DockerEvent | undefined {
  try {
    const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    const id = e.Type === 'network' ? e.Actor?.Attributes?.['container'] : e.Actor?.ID;
    return { type: e.Type ?? '?', action: e.Action ?? '?', ...(id && /^[0-9a-f]{64}$/.test(id) ? { id } : {}) };
  } catch {
    return undefined;
  }
}

/** Containers not running are few; a bound keeps `docker create`s never started from piling up. */
const NOT_RUNNING_MAX = 10_000;

/**
 * Events → triggers, as "docker:TYPE:ACTION:CONTAINER-ID" (the reconciler re-inspects the
 * container named). `docker run` (and `docker start`) connects the container to its
 * networks a few ms before it starts it: a trigger on that connect would run an apply that
 * finds nothing to do (a container not running has no rules) and make the start that
 * follows wait out the scheduler's coalescing pause. So a connect for a container seen
 * created or dead and not started since is no trigger: its start is, and runs at once. A
 * connect of a running container (`docker network connect`) still is one.
 */
export class EventTriggers {
  private readonly notRunning = new Set<string>();

  reasonFor(line: string): string | undefined {
    const e = parseEvent(line);
    if (!e) return 'docker:event';
    if (e.type === 'container' && e.id !== undefined) this.track(e.action, e.id);
    // A created container has no rules yet; its start is the trigger.
    if (e.action === 'create') return undefined;
    if (e.type === 'network' && e.action === 'connect' && e.id !== undefined && this.notRunning.has(e.id)) return undefined;
    return `docker:${e.type}:${e.action}${e.id !== undefined ? `:${e.id}` : ''}`;
  }

  private track(action: string, id: string): void {
    if (action === 'create' || action === 'die') {
      if (this.notRunning.size >= NOT_RUNNING_MAX) this.notRunning.clear();
      this.notRunning.add(id);
    } else if (action === 'start' || action === 'destroy') {
      this.notRunning.delete(id);
    }
  }
}

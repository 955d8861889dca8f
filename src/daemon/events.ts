/**
 * Docker's event stream as triggers. The stream reconnects with backoff when dockerd goes
 * away or restarts; every (re)connection asks for a full resync, since events may have
 * been missed while it was down.
 */
import type Docker from 'dockerode';
import type { Logger } from '../log.js';

const EVENTS = { type: ['container', 'network'] as ('container' | 'network')[], event: ['start', 'die', 'destroy', 'connect', 'disconnect', 'unpause', 'pause', 'rename'] };

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
      let buffered = '';
      s.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onEvent(describe(line));
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

/**
 * "docker:TYPE:ACTION:CONTAINER-ID" — the reconciler re-inspects the container named. A
 * network event names its container in Actor.Attributes.container.
 */
function describe(line: string): string {
  try {
    const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    const id = e.Type === 'network' ? e.Actor?.Attributes?.['container'] : e.Actor?.ID;
    return `docker:${e.Type ?? '?'}:${e.Action ?? '?'}${id && /^[0-9a-f]{64}$/.test(id) ? `:${id}` : ''}`;
  } catch {
    return 'docker:event';
  }
}

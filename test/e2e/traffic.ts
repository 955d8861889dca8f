/**
 * Traffic that runs while a fault happens: a loop that keeps knocking from a refused
 * source (and must never get an answer from a container), and a long-lived TCP session
 * that shows when an open flow is cut. Both are small Python programs in a client
 * namespace, started as processes so they run concurrently with the test's actions.
 */
import type { Lab } from '../../src/lab/index.js';
import { spawnIn } from '../../src/lab/index.js';

const PYTHON = '/usr/bin/python3';

/**
 * Knocking threads: a refused SYN is dropped, so each try waits out its timeout. Every try
 * prints TRY; a try the container answered also prints ANSWER, so answers are counted
 * apart from tries (a knocker that can never get an answer proves nothing).
 */
const KNOCK = `
import socket, sys, threading, time
host, port, src, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
lock = threading.Lock()
def knock():
    while True:
        try:
            s = socket.create_connection((host, port), timeout=0.1, source_address=(src, 0))
            s.settimeout(0.1)
            s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            data = s.recv(4096)
            if data.startswith(b"HTTP/1."):
                with lock: print("ANSWER", data.split(b"\\r\\n\\r\\n", 1)[-1][:40].decode(errors="replace"), flush=True)
            s.close()
        except Exception:
            pass
        with lock: print("TRY", flush=True)
        time.sleep(0.005)
for _ in range(threads):
    threading.Thread(target=knock, daemon=True).start()
threading.Event().wait()
`;

const SESSION = `
import socket, sys, time
host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=2, source_address=(src, 0))
while True:
    try:
        s.sendall(b"ping\\n")
        s.settimeout(0.3)
        d = s.recv(100)
        print("REPLY" if d else "CLOSED", flush=True)
        if not d:
            break
    except (ConnectionResetError, BrokenPipeError):
        print("RESET", flush=True)
        break
    except socket.timeout:
        print("SILENT", flush=True)
    time.sleep(0.1)
`;

/** A TCP echo server for a container (with the host's /usr mounted). */
export const TCP_ECHO = `
import socket, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000)); srv.listen(16)
def serve(c):
    while True:
        d = c.recv(100)
        if not d: break
        c.sendall(d)
while True:
    c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

interface Watched {
  lines(): string[];
  stop(): Promise<void>;
}

function watch(lab: Lab, ns: string, script: string, args: string[]): Watched {
  const child = spawnIn(ns, PYTHON, ['-u', '-c', script, ...args]);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => { text += c.toString('utf8'); });
  child.stderr?.on('data', () => undefined);
  return {
    lines: () => text.split('\n').filter(Boolean),
    async stop() {
      child.kill('SIGKILL');
      await child;
    },
  };
}

export interface Knocker {
  /** Attempts, answered or not. */
  tries(): number;
  /** The container's answers (the start of each body). */
  answers(): string[];
  stop(): Promise<void>;
}

/** Knocks on host:port from `source` every few ms (eight threads unless told); every container answer is recorded. */
export function knock(lab: Lab, ns: string, host: string, port: number, source: string, threads = 8): Knocker {
  const w = watch(lab, ns, KNOCK, [host, `${port}`, source, `${threads}`]);
  return {
    tries: () => w.lines().filter((l) => l.startsWith('TRY')).length,
    answers: () => w.lines().filter((l) => l.startsWith('ANSWER')),
    stop: w.stop,
  };
}

/**
 * Two knockers on host:port during a fault: one from a refused source, which must never get
 * an answer, and its positive control from an allowed source, which must get answers before
 * the fault and again once it is repaired (else the refused one proves nothing).
 */
export interface Guard {
  readonly refused: Knocker;
  readonly allowed: Knocker;
  /** Waits until the allowed knocker answers again, stops both, and checks what each saw. */
  finish(): Promise<void>;
  stop(): Promise<void>;
}

export async function guard(lab: Lab, ns: string, host: string, port: number, sources: { refused: string; allowed: string }): Promise<Guard> {
  const refused = knock(lab, ns, host, port, sources.refused);
  const allowed = knock(lab, ns, host, port, sources.allowed, 2);
  const wait = async (check: () => boolean, what: string) => {
    for (const started = Date.now(); !check(); await new Promise((r) => setTimeout(r, 25))) {
      if (Date.now() - started > 5000) throw new Error(`knockers: ${what} within 5 s`);
    }
  };
  // The knockers leave thousands of conntrack entries; a later policy change would revoke them one by one.
  const forget = (source: string) => lab.inHost('conntrack', ['-D', '-f', source.includes(':') ? 'ipv6' : 'ipv4', '-s', source], { reject: false });
  const stop = async () => {
    await Promise.all([refused.stop(), allowed.stop()]);
    await Promise.all([forget(sources.refused), forget(sources.allowed)]);
  };
  await wait(() => refused.tries() > 5 && allowed.answers().length > 0, 'no answer to the allowed source before the fault').catch(async (e: Error) => {
    await stop();
    throw e;
  });
  return {
    refused, allowed, stop,
    async finish() {
      const before = allowed.answers().length;
      try {
        await wait(() => allowed.answers().length > before, 'no answer to the allowed source after the repair');
        // A quick repair leaves few knocks inside the fault: the refused one keeps knocking (never to be answered) until it has tried enough.
        await wait(() => refused.tries() > 10, 'the refused knocker did not try 10 times');
      } finally {
        await stop();
      }
      if (refused.answers().length > 0) throw new Error(`a refused source got an answer during the fault: ${refused.answers().slice(0, 3).join('; ')}`);
      if (refused.tries() <= 10) throw new Error(`the refused knocker tried only ${refused.tries()} times`);
    },
  };
}

export interface Session {
  events(): string[];
  stop(): Promise<void>;
}

export function session(lab: Lab, ns: string, host: string, port: number, source: string): Session {
  const w = watch(lab, ns, SESSION, [host, `${port}`, source]);
  return { events: w.lines, stop: w.stop };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

/** Repair times per fault, printed (median and worst) for the notes. */
export function repairTimes(): { add(name: string, ms: number): void; print(): void } {
  const times: Record<string, number[]> = {};
  return {
    add: (name, ms) => { (times[name] ??= []).push(ms); },
    print() {
      for (const [name, ms] of Object.entries(times)) {
        console.log(`repair time, ${name}: median ${median(ms)} ms, worst ${Math.max(...ms)} ms over ${ms.length} runs`);
      }
    },
  };
}

/**
 * Traffic that runs while a fault happens: a loop that keeps knocking from a refused
 * source (and must never get an answer from a container), and a long-lived TCP session
 * that shows when an open flow is cut. Both are small Python programs in a client
 * namespace, started as processes so they run concurrently with the test's actions.
 */
import type { Lab } from '../../src/lab/index.js';
import { spawnIn } from '../../src/lab/index.js';

const PYTHON = '/usr/bin/python3';

/** Eight knocking threads: a refused SYN is dropped, so each try waits out its timeout. */
const KNOCK = `
import socket, sys, threading, time
host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
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
for _ in range(8):
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
  tries(): number;
  answers(): string[];
  stop(): Promise<void>;
}

/** Knocks on host:port from `source` every few ms; any container answer is recorded. */
export function knock(lab: Lab, ns: string, host: string, port: number, source: string): Knocker {
  const w = watch(lab, ns, KNOCK, [host, `${port}`, source]);
  return {
    tries: () => w.lines().filter((l) => l.startsWith('TRY')).length,
    answers: () => w.lines().filter((l) => l.startsWith('ANSWER')),
    stop: w.stop,
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

/**
 * An HTTP server inside a client namespace that records the source address of each
 * request: tests use it to see whether container traffic leaves masqueraded to the
 * host's address or with the container's own address.
 */
import type { ResultPromise } from 'execa';
import { PYTHON } from './probes.js';

export interface SeenRequest {
  /** Source address as the server saw it (IPv4-mapped IPv6 shown as plain IPv4). */
  source: string;
  path: string;
}

export interface ClientServer {
  readonly port: number;
  /** Every request so far, oldest first. */
  requests(): SeenRequest[];
  /** Resolves with the first request matching `match`, whether it came already or comes later. */
  waitForRequest(match?: (r: SeenRequest) => boolean, timeoutMs?: number): Promise<SeenRequest>;
  stop(): Promise<void>;
}

/** Answers every GET with the source address it saw, and logs it as one JSON line. */
const SERVER = `
import json, socket, socketserver, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
# One line per request, whole: print() from two handler threads can interleave its parts.
out = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        src = self.client_address[0]
        if src.startswith("::ffff:"):
            src = src[7:]
        with out:
            sys.stdout.write(json.dumps({"source": src, "path": self.path}) + "\\n")
            sys.stdout.flush()
        body = src.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    def server_bind(self):
        # Dual-stack, and no getfqdn(): a reverse lookup in a namespace without DNS stalls.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "lab", self.server_address[1]
srv = Server(("::", int(sys.argv[1])), Handler)
print("READY", flush=True)
srv.serve_forever()
`;

export function serverArgs(port: number): [string, string[]] {
  return [PYTHON, ['-u', '-c', SERVER, String(port)]];
}

/** Wraps a spawned server process (see serverArgs) once it is listening. */
export async function attachServer(proc: ResultPromise, port: number, readyTimeoutMs = 10_000): Promise<ClientServer> {
  const seen: SeenRequest[] = [];
  const waiters = new Set<() => void>();
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  let buf = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'READY') ready();
      else if (line.startsWith('{')) seen.push(JSON.parse(line) as SeenRequest);
      for (const w of waiters) w();
    }
  });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = proc.then(() => {
    throw new Error(`client server on port ${port} exited: ${stderr.trim()}`);
  });
  exited.catch(() => undefined);
  await Promise.race([readyP, exited, timeout(readyTimeoutMs, `client server on port ${port} not ready`)]);

  const stop = async (): Promise<void> => {
    proc.kill('SIGKILL');
    await proc.catch(() => undefined);
  };
  return {
    port,
    requests: () => [...seen],
    stop,
    waitForRequest(match = () => true, timeoutMs = 5000) {
      return new Promise<SeenRequest>((resolve, reject) => {
        const check = (): void => {
          const hit = seen.find(match);
          if (!hit) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching request on port ${port} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

/**
 * The HTTP server's connections and requests, for metrics and for a graceful stop:
 *
 * 1. `beginStop()`: every answer from then on carries `Connection: close`, so clients stop reusing
 *    their keep-alive connections (the server still accepts new ones).
 * 2. `drain(deadline)`: stops accepting connections, closes idle keep-alive connections (again
 *    every 100 ms, as busy ones become idle), and waits for the requests in flight until the
 *    deadline (epoch ms). Then it closes every connection left, cutting what still runs, except
 *    those upgraded to WebSocket: the WebSocket endpoint closes them, and the server's `close`
 *    (which `drain` waits for) follows.
 *
 * A request already on a connection when the listener closes is answered; one sent on an idle
 * keep-alive connection at the moment it is closed may be lost (the usual keep-alive race, which
 * clients retry), which is why `beginStop` can come a while before `drain`.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

export interface HttpTracker {
  /** Open TCP connections (keep-alive, busy, and upgraded to WebSocket). */
  readonly connections: number;
  /** Connections upgraded to WebSocket; `drain` leaves them to the WebSocket endpoint. */
  readonly upgraded: ReadonlySet<Socket>;
  /** Requests being answered (SSE streams and peer long-polls included). */
  readonly requestsInFlight: number;
  readonly stopping: boolean;
  beginStop(): void;
  /** Resolves with the number of requests cut at the deadline (0 when all finished). */
  drain(deadline: number): Promise<number>;
}

const IDLE_SWEEP_MS = 100;

export function trackHttp(server: Server): HttpTracker {
  const sockets = new Set<Socket>();
  const upgraded = new Set<Socket>();
  let inFlight = 0;
  let stopping = false;
  let changed: (() => void) | undefined;

  // Over TLS the connections requests and upgrades use are the TLS sockets.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      upgraded.delete(socket);
    });
  });
  server.on('upgrade', (_request, socket: Socket) => {
    if (sockets.has(socket)) upgraded.add(socket);
  });
  // Before the request handler, so the header is set before an answer is written.
  server.prependListener('request', (_request, response) => {
    inFlight++;
    if (stopping) response.shouldKeepAlive = false;
    response.once('close', () => {
      inFlight--;
      changed?.();
    });
  });

  return {
    get connections() {
      return sockets.size;
    },
    upgraded,
    get requestsInFlight() {
      return inFlight;
    },
    get stopping() {
      return stopping;
    },
    beginStop() {
      stopping = true;
    },
    async drain(deadline) {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      while (inFlight > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(IDLE_SWEEP_MS, Math.max(0, deadline - Date.now())));
          changed = () => {
            if (inFlight > 0) return;
            clearTimeout(timer);
            resolve();
          };
        });
        changed = undefined;
      }
      const cut = inFlight;
      server.closeAllConnections();
      for (const socket of sockets) if (!upgraded.has(socket)) socket.destroy();
      await closed;
      return cut;
    },
  };
}

// The one place the daemon's HTTP servers are made (TLS plugs in here): each listener is its own server, with its
// own connection limits (in total and per peer address) and timeouts, so a flood of one cannot starve the other.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PeerAdmission } from './peer-admission.js';

export const ListenerKind = { Tcp: 'tcp', Socket: 'socket' } as const;
export type ListenerKind = (typeof ListenerKind)[keyof typeof ListenerKind];

export interface ConnectionLimits {
  /** Connections open at once on this listener; more are closed as they arrive. */
  readonly maxConnections: number;
  /** Connections open at once from one peer address (TCP; the unix socket's peers have no address). */
  readonly maxConnectionsPerPeer: number;
  /** Longest wait for a request's headers, from the moment the connection is idle or opened. */
  readonly headersTimeoutMs: number;
  /** Longest wait for a whole request (headers and body): 408 after it. Responses (watches) are not bounded by it. */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open, as advertised (`Keep-Alive: timeout=N`, whole seconds); Node
   * closes it 1 s later still. Longer than clients' own idle bounds, so the client closes an idle connection first
   * and never sends a request on one the daemon is closing (the race ends in "socket hang up" / ECONNRESET).
   */
  readonly keepAliveTimeoutMs: number;
  /** Request line and headers together (431 above), which bounds query strings too. */
  readonly maxHeaderBytes: number;
}

/** TCP: a few legitimate clients (controllers, kubectl); the fds left over stay for the socket and etcd. */
export const TCP_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  maxConnectionsPerPeer: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // The Kubernetes API server's IdleTimeout (k8s.io/apiserver secure_serving.go: 90 s, "matches http.DefaultTransport
  // keep-alive timeout"): Go clients (client-go) idle out at 90 s, Node agents with a timeout at the hint - 1 s = 89 s.
  keepAliveTimeoutMs: 90_000,
  maxHeaderBytes: 16 * 1024,
};

/** The unix socket: the node's CNI plugin (one connection per call) and the CLI; only the owner can connect. */
export const SOCKET_LIMITS: ConnectionLimits = { ...TCP_LIMITS, maxConnections: 2048, maxConnectionsPerPeer: 2048 };

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A listener's server; `reportRefusal` counts a request refused by admission into the periodic report. */
export type ApiServer = Server & { reportRefusal(): void };

/** How often refused connections are reported (one line with counts, not one per connection). */
const REPORT_MS = 10_000;

/**
 * `tls`: serve HTTPS (the TCP listener carries a token); the limits count raw connections, before the handshake.
 * `admission`: per-peer rates (TCP); a connection over its peer's rate is closed as it arrives, before the handshake.
 */
export function createApiServer(kind: ListenerKind, handler: Handler, limits: ConnectionLimits, log: Logger, tls?: TlsOptions, admission?: PeerAdmission): ApiServer {
  const http = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
  // An https.Server is an http.Server over TLS: the same events and limits apply.
  // A TLS connection that never completes its handshake is cut at the same bound as one that never sends a request.
  const server: Server = tls ? (createHttpsServer({ ...http, handshakeTimeout: limits.headersTimeoutMs, ...tls }, handler) as unknown as Server) : createServer(http, handler);
  server.maxConnections = limits.maxConnections;
  let refused = { total: 0, perPeer: 0 };
  let reporter: NodeJS.Timeout | undefined;
  const report = () => {
    reporter ??= setTimeout(() => {
      reporter = undefined;
      const peers = admission ? { peerRate: admission.refused, peerLimits: admission.limits } : {};
      log.warn({ listener: kind, overTotal: refused.total, overPerPeer: refused.perPeer, limits: { total: limits.maxConnections, perPeer: limits.maxConnectionsPerPeer }, ...peers }, 'connections refused: over the limit');
      refused = { total: 0, perPeer: 0 };
      if (admission) admission.refused = { connections: 0, inFlight: 0, refusals: 0, watches: 0, aborts: 0 };
    }, REPORT_MS).unref();
  };
  server.on('drop', () => {
    refused.total++;
    report();
  });
  const perPeer = new Map<string, number>();
  // Node's headersTimeout starts with a request's first byte: a connection that never sends one is timed out here.
  server.on('request', (req: IncomingMessage) => req.socket.setTimeout(0));
  // The HTTP layer's socket (the TLS one over TCP) times out a connection that sends no request.
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => socket.setTimeout(limits.headersTimeoutMs));
  // Against the peer's abort budget (admission): a connection closed without a request (its TLS handshake thrown
  // away, or cut by the client before it was done), and a request the client left before the answer's headers.
  const silent = new Set<string>(); // "address:port" of accepted connections that have not sent a request yet
  if (admission) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const peer = req.socket.remoteAddress;
      silent.delete(`${peer}:${req.socket.remotePort}`);
      res.once('close', () => {
        if (!res.headersSent && peer !== undefined) admission.aborted(peer);
      });
    });
  }
  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress;
    if (peer === undefined) return;
    const n = (perPeer.get(peer) ?? 0) + 1;
    if (admission && !admission.connection(peer)) {
      report();
      socket.destroy();
      return;
    }
    if (n > limits.maxConnectionsPerPeer) {
      refused.perPeer++;
      report();
      socket.destroy();
      return;
    }
    perPeer.set(peer, n);
    const key = `${peer}:${socket.remotePort}`;
    if (admission) silent.add(key);
    socket.once('close', () => {
      if (silent.delete(key)) admission?.aborted(peer);
      const left = (perPeer.get(peer) ?? 1) - 1;
      if (left <= 0) perPeer.delete(peer);
      else perPeer.set(peer, left);
    });
  });
  server.on('close', () => clearTimeout(reporter));
  return Object.assign(server, { reportRefusal: report });
}


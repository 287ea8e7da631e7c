// The daemon's HTTPS listener (src/daemon/listener.ts, its TLS and limits) on a worker thread of its own, so a test
// can block its own event loop (as a busy client does) while the server keeps its keep-alive timers. Answers every
// request with a small JSON body; tells the parent its port.
import { parentPort, workerData } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createApiServer, TCP_LIMITS, type ConnectionLimits } from '../../src/daemon/listener.js';
import { tlsServerOptions, type ServingTls } from '../../src/daemon/tls.js';

export interface KeepAliveServerData {
  readonly limits: Partial<ConnectionLimits>;
  /** The parent's testTls() (generating a CA per worker would cost seconds). */
  readonly tls: ServingTls;
}

const { limits, tls } = workerData as KeepAliveServerData;
const server = createApiServer('tcp', (_req, res) => res.end('{"ok":true}'), { ...TCP_LIMITS, ...limits }, pino({ level: 'silent' }), tlsServerOptions(tls, undefined));
server.listen(0, '127.0.0.1', () => parentPort!.postMessage((server.address() as AddressInfo).port));
parentPort!.on('message', () => server.close(() => parentPort!.close()));

// Daemon fixtures: an in-process daemon on a real etcd (fresh prefix), and a tiny HTTP client over TCP or its socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon, type DaemonOptions } from '../../src/daemon/daemon.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore } from '../../src/store/event-store.js';
import { freshPrefix, sharedEtcd } from './store.js';
import { testTls } from './tls.js';

export const TOKEN = 'test-token-0123456789abcdef';

export interface DaemonFixture {
  readonly daemon: Daemon;
  readonly store: EventStore;
  readonly socket: string;
  readonly port: number;
  /** The CA of the TCP listener's certificate (HTTPS). */
  readonly ca: string;
  readonly prefix: string;
  close(): Promise<void>;
}

export async function startDaemon(opts: { prefix?: string; node?: string; endpoints?: string[]; extra?: Partial<DaemonOptions> } = {}): Promise<DaemonFixture> {
  const endpoints = opts.endpoints ?? (await sharedEtcd()).endpoints;
  const client = openEtcd({ endpoints });
  const prefix = opts.prefix ?? freshPrefix();
  const store = new EventStore(client, { prefix });
  await store.open();
  const dir = mkdtempSync(join(tmpdir(), 'ipam-daemon-'));
  const socket = join(dir, 'ipam.sock');
  const daemon = await Daemon.start({ store, listen: '127.0.0.1:0', token: TOKEN, tls: testTls(), socket, node: opts.node ?? 'node-1', log: pino({ level: 'silent' }), ...opts.extra });
  return {
    daemon,
    store,
    socket,
    port: daemon.address!.port,
    ca: testTls().ca,
    prefix,
    async close() {
      await daemon.stop();
      await store.close();
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request to the daemon: HTTP over its socket (`via: 'socket'`) or HTTPS on TCP (with `token`, if given), verified with `f.ca` (default: the test CA). */
export function call(
  f: Pick<DaemonFixture, 'socket' | 'port'> & { ca?: string },
  method: string,
  path: string,
  o: { body?: unknown; raw?: string | Buffer; token?: string | null; via?: 'socket' | 'tcp'; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const via = o.via ?? 'tcp';
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const headers: Record<string, string> = { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers };
  const token = o.token === undefined ? TOKEN : o.token;
  if (via === 'tcp' && token !== null) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const send = via === 'socket' ? httpRequest : httpsRequest;
    const req = send(
      { method, path, headers, ...(via === 'socket' ? { socketPath: f.socket } : { host: '127.0.0.1', port: f.port, ca: f.ca ?? testTls().ca }) },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}

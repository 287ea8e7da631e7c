// How a CLI command reaches the engine: straight to etcd (--etcd / ETCD_ENDPOINTS) or through a running daemon
// (--server with a token, else the local unix socket).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
// The etcd side (etcd3, gRPC, the allocator) is loaded only by commands that go to etcd: a command that talks
// to the daemon starts in about the time of `node -e 0`.
import type { Allocator } from '../alloc/allocator.js';
import type { EventStore } from '../store/event-store.js';
import { DaemonClient } from './daemon-client.js';
import { TLS_FILES } from '../daemon/tls.js';
import { CliError } from './errors.js';

export { CliError };

export interface GlobalOptions {
  readonly etcd?: string;
  readonly prefix: string;
  readonly server?: string;
  readonly socket?: string;
  readonly tokenFile?: string;
  /** CA of the daemon's serving certificate (default: <data-dir>/tls/ca.crt when it exists). */
  readonly caFile?: string;
  readonly dataDir: string;
}

/** The CA a client of this data dir's daemon verifies it with: --ca-file, else the generated one, else none. */
export function daemonCa(g: GlobalOptions): string | undefined {
  const file = g.caFile ?? resolve(g.dataDir, 'tls', TLS_FILES.caCert);
  if (g.caFile && !existsSync(g.caFile)) throw new CliError(`--ca-file ${g.caFile}: no such file`);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export interface DirectStore {
  readonly store: EventStore;
  close(): Promise<void>;
}

/** The event store on etcd, for commands that read or write the log themselves. */
export async function openDirect(g: GlobalOptions): Promise<DirectStore> {
  const [{ connectionFromEnv, openEtcd, probeEtcd }, { EventStore }, { defaultTagLayout }] = await Promise.all([import('../store/connect.js'), import('../store/event-store.js'), import('../store/tag-layout.js')]);
  const conn = connectionFromEnv(g.etcd ? { ...process.env, ETCD_ENDPOINTS: g.etcd } : process.env);
  if (!conn) throw new CliError('this command reads etcd directly: give --etcd http://HOST:2379 (or set ETCD_ENDPOINTS; ETCD_CACERT/ETCD_CERT/ETCD_KEY for TLS)');
  const client = openEtcd(conn);
  try {
    await probeEtcd(client, conn, g.prefix);
  } catch (e) {
    client.close();
    throw new CliError((e as Error).message);
  }
  // A log this command creates gets the daemon's layout (a log that has one keeps it).
  const store = new EventStore(client, { prefix: g.prefix, tagLayout: defaultTagLayout('block') });
  await store.open();
  return {
    store,
    async close() {
      await store.close();
      client.close();
    },
  };
}

export async function openDirectAllocator(g: GlobalOptions): Promise<{ allocator: Allocator; store: EventStore; close(): Promise<void> }> {
  const d = await openDirect(g);
  const [{ Allocator }, { currentHorizonCheckpoint }] = await Promise.all([import('../alloc/allocator.js'), import('../../projections/checkpoint.js')]);
  const allocator = new Allocator(d.store);
  // On a log the horizon has cut, the model starts from the horizon checkpoint (a read from revision 0 never ends).
  await allocator.start({ onBehindHorizon: async () => (await currentHorizonCheckpoint(d.store)).model });
  return {
    allocator,
    store: d.store,
    async close() {
      await allocator.stop();
      await d.close();
    },
  };
}

/** Whether the command should go straight to etcd (an endpoint was given) rather than to a daemon. */
export function wantsDirect(g: GlobalOptions): boolean {
  return Boolean(g.etcd || (!g.server && !g.socket && process.env.ETCD_ENDPOINTS));
}

/** A client of the daemon: --server URL (token from --token-file or IPAM_TOKEN), else the unix socket. */
export function daemonClient(g: GlobalOptions): DaemonClient {
  if (g.server) {
    const token = DaemonClient.tokenFrom(g.tokenFile, resolve(g.dataDir, 'token'));
    if (!token) throw new CliError(`--server ${g.server} needs a token: --token-file FILE or IPAM_TOKEN`);
    return DaemonClient.tcp(g.server, token, daemonCa(g));
  }
  const socket = resolve(g.socket ?? resolve(g.dataDir, 'ipam.sock'));
  if (!existsSync(socket)) {
    throw new CliError(`no daemon socket at ${socket}: start one with \`npm start\` (or \`ipam serve\`), pass --socket PATH or --server URL, or use --etcd to work on etcd directly`);
  }
  return DaemonClient.unix(socket);
}

// `ipam serve`: the daemon. Opens the store (starting a local etcd when no endpoint is given) and runs until signalled.
import { resolve } from 'node:path';
import { LocalEtcd } from '../local/etcd.js';
import { connectionFromEnv, describeConnection, openEtcd, probeEtcd, type EtcdConnection } from '../store/connect.js';
import { EventStore } from '../store/event-store.js';

export interface ServeOptions {
  readonly etcd?: string;
  readonly prefix: string;
  readonly dataDir: string;
}

export async function serve(opts: ServeOptions): Promise<void> {
  let local: LocalEtcd | undefined;
  let conn: EtcdConnection | undefined = opts.etcd ? { endpoints: opts.etcd.split(',') } : connectionFromEnv();
  if (!conn) {
    local = await LocalEtcd.start({ persistentDir: resolve(opts.dataDir, 'etcd') });
    conn = { endpoints: local.endpoints };
    log(`started local etcd at ${local.endpoints.join(',')} (data in ${resolve(opts.dataDir, 'etcd')})`);
  }
  const client = openEtcd(conn);
  await probeEtcd(client, conn).catch((e: unknown) => {
    client.close();
    throw e;
  });
  const store = new EventStore(client, { prefix: opts.prefix });
  const rev = await store.open();
  const head = await store.headRevision();
  log(`event store on ${describeConnection(conn)} prefix ${opts.prefix}: revision ${rev}, last commit at ${head}`);
  const sub = store.subscribe({ after: 0, onEvents: () => undefined, onError: (e) => log(`subscription: ${(e as Error).message}`) });
  await sub.sync();
  log(`caught up with the log; ready (Ctrl-C to stop)`);

  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      log(`${sig}: stopping`);
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await store.close();
  client.close();
  await local?.stop();
  log('stopped');
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ipam: ${msg}\n`);
}

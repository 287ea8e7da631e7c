// Test fixtures: a real etcd (ETCD_ENDPOINTS from `npm test`, or one started here) and a fresh key prefix per test.
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { LocalEtcd } from '../../src/local/etcd.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore, type EventStoreOptions } from '../../src/store/event-store.js';

let shared: Promise<{ endpoints: string[]; stop?: () => Promise<void> }> | undefined;

/** Endpoints of the suite's etcd: the one `npm test` started, or a private one for this test file's process. */
export function sharedEtcd(): Promise<{ endpoints: string[] }> {
  shared ??= (async () => {
    const env = process.env.ETCD_ENDPOINTS;
    if (env) return { endpoints: env.split(',') };
    const etcd = await LocalEtcd.start();
    process.once('exit', () => etcd.members.forEach((m) => m.pid && process.kill(m.pid, 'SIGKILL')));
    return { endpoints: etcd.endpoints, stop: () => etcd.stop() };
  })();
  return shared;
}

export function freshPrefix(): string {
  return `/t-${randomBytes(6).toString('hex')}/`;
}

export interface StoreFixture {
  readonly client: Etcd3;
  readonly store: EventStore;
  readonly prefix: string;
  close(): Promise<void>;
}

export async function openStore(opts: EventStoreOptions = {}, endpoints?: string[]): Promise<StoreFixture> {
  const eps = endpoints ?? (await sharedEtcd()).endpoints;
  const client = openEtcd({ endpoints: eps });
  const prefix = opts.prefix ?? freshPrefix();
  const store = new EventStore(client, { ...opts, prefix });
  await store.open();
  return {
    client,
    store,
    prefix,
    async close() {
      await store.close();
      client.close();
    },
  };
}

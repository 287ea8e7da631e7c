// Fixtures for the Kubernetes integration tests: the API server double, a controller on real etcd and Redis.
import { randomBytes } from 'node:crypto';
import type { LoggedEvent } from '../../events/catalogue.js';
import { startController, type ControllerOptions, type RunningController } from '../../src/k8s/controller.js';
import type { EventStore } from '../../src/store/event-store.js';
import { FakeApiServer, type FakeObject } from './fake-apiserver.js';
import { freshPrefix, sharedEtcd } from './store.js';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run under `node dist/src/local/with-services.js --redis -- ...`');
  return url;
}

export const freshQueuePrefix = () => `t${randomBytes(5).toString('hex')}`;

export async function controller(fake: FakeApiServer, o: Partial<ControllerOptions> & { prefix: string; queuePrefix: string }): Promise<RunningController> {
  const { endpoints } = await sharedEtcd();
  return startController({ kubeConfig: fake.kubeConfig(), etcd: endpoints.join(','), redisUrl: redisUrl(), log: () => undefined, ...o });
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function allEvents(store: EventStore): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of store.read()) out.push(e as LoggedEvent);
  return out;
}

export function pod(name: string, o: { uid?: string; phase?: string; namespace?: string; owner?: { kind: string; name: string; apiVersion?: string } } = {}): FakeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      uid: o.uid ?? `uid-${name}`,
      ...(o.owner ? { ownerReferences: [{ apiVersion: o.owner.apiVersion ?? 'apps/v1', kind: o.owner.kind, name: o.owner.name, uid: `uid-${o.owner.name}`, controller: true }] } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'x' }] },
    status: { phase: o.phase ?? 'Running' },
  };
}

export { freshPrefix, FakeApiServer };

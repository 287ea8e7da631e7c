// The maintenance lease: one key under the prefix, attached to an etcd lease, held by at most one daemon at a time.
// Whoever holds it moves the horizon, archives and deletes; every such write compares the key's create revision,
// so a daemon whose lease expired (paused, partitioned) can no longer write once another has taken over.
import type { Etcd3, Lease } from 'etcd3';
import type { Holder } from './horizon.js';
import type { KeyLayout } from './keys.js';

export class MaintenanceLease {
  private lease: Lease | undefined;
  private held: Holder | undefined;
  readonly key: string;

  constructor(
    private readonly client: Etcd3,
    keys: KeyLayout,
    /** Who we are, written as the key's value (for operators: `etcdctl get <prefix>lifecycle/maintainer`). */
    private readonly identity: string,
    private readonly ttlSeconds = 15,
  ) {
    this.key = `${keys.lifecyclePrefix}maintainer`;
  }

  /** The lease if this process holds it. */
  get holder(): Holder | undefined {
    return this.held;
  }

  /** Takes the lease if nobody holds it; answers who holds it now (undefined: someone else). */
  async tryAcquire(): Promise<Holder | undefined> {
    if (this.held) return this.held;
    if (!this.lease) {
      const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
      lease.on('lost', () => {
        if (this.lease === lease) {
          this.lease = undefined;
          this.held = undefined;
        }
      });
      this.lease = lease;
    }
    const id = await this.lease.grant();
    const key = Buffer.from(this.key);
    const res = await this.client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key, value: Buffer.from(this.identity), lease: id } }],
      failure: [{ request_range: { key } }],
    });
    if (!res.succeeded) return undefined;
    this.held = { key: this.key, createRevision: Number(res.header.revision) };
    return this.held;
  }

  /** Who holds the lease now (the key's value), or undefined. */
  async current(): Promise<string | undefined> {
    return (await this.client.get(this.key).string()) ?? undefined;
  }

  /** Gives the lease up at once (the key goes with it), so another daemon can take over without waiting for the TTL. */
  async release(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    this.held = undefined;
    if (lease) await lease.revoke().catch(() => undefined);
  }
}

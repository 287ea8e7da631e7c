// Builders for realistic test events.
import { makeEvent, Tag, type DomainEvent } from '../../events/index.js';

export function allocated(id: string, address: string, pod: string, opts: { pool?: string; nic?: string; ns?: string } = {}): DomainEvent {
  const pool = opts.pool ?? 'p1';
  const nic = opts.nic ?? 'eth0';
  const ns = opts.ns ?? 'default';
  return makeEvent(
    'IPAllocated',
    {
      allocationId: id,
      pool,
      ipVersion: 4,
      address,
      prefixLength: 24,
      endpoint: { namespace: ns, name: pod, uid: `uid-${pod}`, containerID: `c-${pod}`, node: 'node-1', nic, owner: { kind: 'ReplicaSet', name: 'rs' } },
    },
    { id, at: '2026-11-23T12:00:00Z', tags: [Tag.ip('default', address), Tag.endpoint(ns, pod, nic), Tag.pool(pool)] },
  );
}

export function allocationCondition(address: string, pod: string, after: number, nic = 'eth0', ns = 'default') {
  return { tags: [Tag.ip('default', address), Tag.endpoint(ns, pod, nic), Tag.poolConfig('p1')], after };
}

// Server-side apply's field ownership (src/api/kube/managed-fields.ts), given / when / then: who owns which field
// after applies and updates, conflicts as the API server words them, force, dropped fields, the Update-manager cap.
import test from 'ava';
import { ApplyConflict, fromFieldsV1, MAX_UPDATE_MANAGERS, recordUpdate, serverSideApply, type ManagedFieldsEntry } from '../src/api/kube/managed-fields.js';

const GV = 'spiderpool.spidernet.io/v2beta1';
const pool = (spec: Record<string, unknown>, labels?: Record<string, string>) => ({ apiVersion: GV, kind: 'SpiderIPPool', metadata: { name: 'p', ...(labels ? { labels } : {}) }, spec });
const owned = (entries: readonly ManagedFieldsEntry[], manager: string) => [...fromFieldsV1(entries.find((e) => e.manager === manager)?.fieldsV1)].map((k) => k.split('\u0000').join('.')).sort();
const apply = (live: Record<string, unknown> | undefined, config: Record<string, unknown>, entries: readonly ManagedFieldsEntry[], manager: string, force = false) =>
  serverSideApply({ live, config, entries, manager, apiVersion: GV, time: '2026-12-01T09:00:00Z', force });

test('apply creates with the manager owning every applied leaf; maps key by key, lists atomic', (t) => {
  const r = apply(undefined, pool({ ipVersion: 4, ips: ['10.0.0.1-10.0.0.9'], podAffinity: { matchLabels: { app: 'a' } } }, { team: 'net' }), [], 'flux');
  t.deepEqual(owned(r.managedFields, 'flux'), ['metadata.labels.team', 'spec.ipVersion', 'spec.ips', 'spec.podAffinity.matchLabels.app']);
  t.is(r.managedFields[0]!.operation, 'Apply');
  t.deepEqual(r.managedFields[0]!.fieldsV1, { 'f:metadata': { 'f:labels': { 'f:team': {} } }, 'f:spec': { 'f:ipVersion': {}, 'f:ips': {}, 'f:podAffinity': { 'f:matchLabels': { 'f:app': {} } } } });
});

test('another manager setting a field to another value conflicts (409 wording); the same value is shared; force takes it over', (t) => {
  const a = apply(undefined, pool({ ipVersion: 4, gateway: '10.0.0.1' }), [], 'a');
  const e = t.throws(() => apply(a.object, pool({ gateway: '10.0.0.2' }), a.managedFields, 'b'), { instanceOf: ApplyConflict });
  t.is(e!.message, `Apply failed with 1 conflict: conflict with "a" using ${GV}: .spec.gateway`);
  t.deepEqual(e!.conflicts, [{ manager: 'a', apiVersion: GV, field: '.spec.gateway' }]);
  const shared = apply(a.object, pool({ gateway: '10.0.0.1' }), a.managedFields, 'b');
  t.deepEqual(owned(shared.managedFields, 'a'), ['spec.gateway', 'spec.ipVersion']);
  t.deepEqual(owned(shared.managedFields, 'b'), ['spec.gateway']);
  const forced = apply(a.object, pool({ gateway: '10.0.0.2' }), a.managedFields, 'b', true);
  t.is((forced.object.spec as { gateway: string }).gateway, '10.0.0.2');
  t.deepEqual(owned(forced.managedFields, 'a'), ['spec.ipVersion']);
  t.deepEqual(owned(forced.managedFields, 'b'), ['spec.gateway']);
});

test('a field the manager stops applying is removed, unless another manager owns it too; a no-op apply keeps the entry', (t) => {
  const a = apply(undefined, pool({ ipVersion: 4, gateway: '10.0.0.1', vlan: 5 }, { x: '1' }), [], 'a');
  const dropped = apply(a.object, pool({ ipVersion: 4, gateway: '10.0.0.1' }), a.managedFields, 'a');
  t.deepEqual(dropped.object.spec, { ipVersion: 4, gateway: '10.0.0.1' });
  t.deepEqual(dropped.object.metadata, { name: 'p' }, 'the last label dropped leaves no empty labels map');
  const b = apply(a.object, pool({ vlan: 5 }), a.managedFields, 'b');
  const kept = apply(b.object, pool({ ipVersion: 4 }), b.managedFields, 'a');
  t.is((kept.object.spec as { vlan?: number }).vlan, 5, 'b still applies vlan');
  const again = apply(kept.object, pool({ ipVersion: 4 }), kept.managedFields, 'a');
  t.deepEqual(again.managedFields, kept.managedFields);
});

test('an Update owns what it changed and takes it from the others; no change moves nothing; Update managers are capped', (t) => {
  const a = apply(undefined, pool({ ipVersion: 4, gateway: '10.0.0.1' }), [], 'a');
  const after = { ...a.object, spec: { ipVersion: 4, gateway: '10.0.0.9' }, metadata: { name: 'p', labels: { l: 'v' } } };
  const u = recordUpdate(a.managedFields, 'kubectl-edit', GV, '2026-12-01T09:01:00Z', a.object, after);
  t.deepEqual(owned(u, 'a'), ['spec.ipVersion']);
  t.deepEqual(owned(u, 'kubectl-edit'), ['metadata.labels.l', 'spec.gateway']);
  t.is(u.find((e) => e.manager === 'kubectl-edit')!.operation, 'Update');
  t.deepEqual(recordUpdate(u, 'x', GV, '2026-12-01T09:02:00Z', after, after), u);
  let entries: ManagedFieldsEntry[] = [];
  let obj: Record<string, unknown> = pool({});
  for (let i = 0; i < MAX_UPDATE_MANAGERS + 5; i++) {
    const next = pool({ [`f${i}`]: i });
    const merged = { ...obj, spec: { ...(obj.spec as object), ...(next.spec as object) } };
    entries = recordUpdate(entries, `m${i}`, GV, `2026-12-01T09:${String(10 + i).padStart(2, '0')}:00Z`, obj, merged);
    obj = merged;
  }
  t.is(entries.filter((e) => e.operation === 'Update').length, MAX_UPDATE_MANAGERS);
  t.deepEqual(owned(entries, 'ancient-changes'), ['spec.f0', 'spec.f1', 'spec.f2', 'spec.f3', 'spec.f4', 'spec.f5']);
});

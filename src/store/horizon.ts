// The log's horizon H: every commit at or before H is covered by a verified checkpoint and an archive, so etcd may
// drop those records and the tag keys they alone still guard. Moving the horizon is a commit of its own (an empty
// record) so every subscription's view passes it; its mod_revision is the fence every conditional append compares.
import type { Etcd3, ICompare, IRequestOp } from 'etcd3';
import { REORDER_WINDOW } from './committer.js';
import { prefixEnd, type KeyLayout } from './keys.js';
import { currentRevision } from './reader.js';

export interface Horizon {
  /** Every commit at or before this revision is in the horizon checkpoint and the archive. */
  readonly revision: number;
  /** `at` of the last event at or before `revision` (times before it are answered from the archive). */
  readonly lastEventAt: string;
  /** When the maintaining daemon moved it (ISO time). */
  readonly movedAt: string;
  /** Generation of the horizon checkpoint saved at `revision`. */
  readonly checkpoint: string;
}

export interface HorizonState {
  /** Undefined while the log has never been cut. */
  readonly horizon: Horizon | undefined;
  /** mod_revision of the horizon key (0: none), the fence. */
  readonly mod: number;
}

/** Proof that the caller holds the maintenance lease: its key must still exist with this create revision. */
export interface Holder {
  readonly key: string;
  readonly createRevision: number;
}

export class NotMaintainer extends Error {
  readonly code = 'NotMaintainer';
  constructor(what: string) {
    super(`${what}: this daemon no longer holds the maintenance lease (or the horizon moved under it); another daemon maintains the log`);
  }
}

export async function readHorizon(client: Etcd3, keys: KeyLayout): Promise<HorizonState> {
  const res = await client.kv.range({ key: Buffer.from(keys.horizon) });
  const kv = res.kvs[0];
  if (!kv) return { horizon: undefined, mod: 0 };
  return { horizon: JSON.parse(kv.value.toString()) as Horizon, mod: Number(kv.mod_revision) };
}

function holderCompare(h: Holder): ICompare {
  return { key: Buffer.from(h.key), target: 'Create', result: 'Equal', create_revision: h.createRevision };
}

/**
 * Moves the horizon (compare-and-swap on its mod_revision `expectMod`, only while `holder` holds the lease). Returns
 * the revision of the move: from then on, appends whose view is older fail with the HORIZON_FENCE conflict.
 */
export async function moveHorizon(client: Etcd3, keys: KeyLayout, writer: string, next: Horizon, expectMod: number, holder: Holder): Promise<number> {
  if (next.revision >= (await currentRevision(client, keys)) + 1) throw new Error(`horizon ${next.revision} is beyond the current revision`);
  const hint = await currentRevision(client, keys);
  // An empty record at the move's revision: subscriptions deliver through it, so a view can become as fresh as the move.
  const record = keys.record(hint, `${writer}h`, Date.now());
  const res = await client.kv.txn({
    compare: [
      { key: Buffer.from(keys.horizon), target: 'Mod', result: 'Equal', mod_revision: expectMod },
      { key: Buffer.from(keys.head), target: 'Mod', result: 'Less', mod_revision: hint + REORDER_WINDOW },
      { key: Buffer.from(record), target: 'Version', result: 'Equal', version: 0 },
      holderCompare(holder),
    ],
    success: [
      { request_put: { key: Buffer.from(record), value: Buffer.from('[]') } },
      { request_put: { key: Buffer.from(keys.head), value: Buffer.from(record.slice(keys.logPrefix.length)) } },
      { request_put: { key: Buffer.from(keys.horizon), value: Buffer.from(JSON.stringify(next)) } },
    ],
  });
  if (!res.succeeded) throw new NotMaintainer(`moving the horizon to ${next.revision}`);
  return Number(res.header.revision);
}

/** Log records committed at or before `through`, oldest hints first, `limit` keys per call (keys only). */
export async function recordsThrough(client: Etcd3, keys: KeyLayout, through: number, limit: number): Promise<{ key: Buffer; revision: number }[]> {
  // A record committed at C has hint < C, so every record at or before `through` has a key below logFrom(through).
  const res = await client.kv.range({ key: Buffer.from(keys.logPrefix), range_end: Buffer.from(keys.logFrom(through)), max_mod_revision: through, keys_only: true, limit });
  return res.kvs.map((kv) => ({ key: kv.key, revision: Number(kv.mod_revision) }));
}

/**
 * Deletes archived records (each at or before the horizon), in one txn, only while `holder` holds the lease and the
 * horizon is still the one at `horizonMod` (so nothing is deleted that the current horizon does not cover).
 */
export async function deleteRecords(client: Etcd3, keys: KeyLayout, records: readonly Buffer[], horizonMod: number, holder: Holder): Promise<void> {
  if (records.length === 0) return;
  const res = await client.kv.txn({
    compare: [{ key: Buffer.from(keys.horizon), target: 'Mod', result: 'Equal', mod_revision: horizonMod }, holderCompare(holder)],
    success: records.map((key): IRequestOp => ({ request_delete_range: { key } })),
  });
  if (!res.succeeded) throw new NotMaintainer(`deleting ${records.length} archived records`);
}

/** Tag keys whose last event is at or before `through`, with the tag name and mod_revision, from `from` on (keys only). */
export async function tagsThrough(client: Etcd3, keys: KeyLayout, tagPrefix: string, through: number, from: string | undefined, limit: number): Promise<{ tag: string; mod: number }[]> {
  const start = from === undefined ? Buffer.from(keys.tag(tagPrefix)) : Buffer.concat([Buffer.from(keys.tag(from)), Buffer.from([0])]);
  const res = await client.kv.range({ key: start, range_end: prefixEnd(keys.tag(tagPrefix)), max_mod_revision: through, keys_only: true, limit });
  return res.kvs.map((kv) => ({ tag: kv.key.toString().slice(keys.tagPrefix.length), mod: Number(kv.mod_revision) }));
}

/**
 * Deletes tag keys that nothing was written to since `mod` (each compared), in one txn, under the current horizon
 * (`horizonMod`) and lease. Returns false when any tag changed meanwhile (nothing deleted; the caller goes one by one).
 */
export async function deleteTags(client: Etcd3, keys: KeyLayout, tags: readonly { tag: string; mod: number }[], horizonMod: number, holder: Holder): Promise<boolean> {
  if (tags.length === 0) return true;
  const res = await client.kv.txn({
    compare: [
      { key: Buffer.from(keys.horizon), target: 'Mod', result: 'Equal', mod_revision: horizonMod },
      holderCompare(holder),
      ...tags.map((t): ICompare => ({ key: Buffer.from(keys.tag(t.tag)), target: 'Mod', result: 'Equal', mod_revision: t.mod })),
    ],
    success: tags.map((t): IRequestOp => ({ request_delete_range: { key: Buffer.from(keys.tag(t.tag)) } })),
  });
  if (res.succeeded) return true;
  const h = await readHorizon(client, keys);
  const held = await client.kv.range({ key: Buffer.from(holder.key) });
  if (h.mod !== horizonMod || Number(held.kvs[0]?.create_revision ?? 0) !== holder.createRevision) throw new NotMaintainer(`deleting ${tags.length} tag keys`);
  return false;
}

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

/**
 * Log records committed at or before `through`, oldest hints first, at most `limit` (keys only). Pages with a plain
 * limit and filters by revision here: etcd ignores `limit` when a range also filters by mod_revision (it reads the
 * whole range, then truncates), which made every call as costly as the whole backlog.
 */
export async function recordsThrough(client: Etcd3, keys: KeyLayout, through: number, limit: number): Promise<{ key: Buffer; revision: number }[]> {
  // A record committed at C has hint < C, so every record at or before `through` has a key below logFrom(through).
  const end = Buffer.from(keys.logFrom(through));
  const out: { key: Buffer; revision: number }[] = [];
  let from = Buffer.from(keys.logPrefix);
  for (;;) {
    const res = await client.kv.range({ key: from, range_end: end, keys_only: true, limit: Math.max(limit, 64) });
    for (const kv of res.kvs) {
      const revision = Number(kv.mod_revision);
      if (revision <= through) out.push({ key: kv.key, revision });
      if (out.length >= limit) return out;
    }
    if (!res.more || res.kvs.length === 0) return out;
    from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
  }
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

/**
 * One page of tag keys under `keys.tag(tagPrefix)` after `from` (keys only: tag name and mod_revision), with `more`
 * when the range goes on. No revision filter in the request: etcd would then read the whole range for every page.
 */
export async function tagPage(client: Etcd3, keys: KeyLayout, tagPrefix: string, from: string | undefined, limit: number): Promise<{ tags: { tag: string; mod: number }[]; more: boolean }> {
  const start = from === undefined ? Buffer.from(keys.tag(tagPrefix)) : Buffer.concat([Buffer.from(keys.tag(from)), Buffer.from([0])]);
  const res = await client.kv.range({ key: start, range_end: prefixEnd(keys.tag(tagPrefix)), keys_only: true, limit });
  return { tags: res.kvs.map((kv) => ({ tag: kv.key.toString().slice(keys.tagPrefix.length), mod: Number(kv.mod_revision) })), more: res.more };
}

/** Tags one deleteTagsThrough txn takes: one compare each plus horizon and lease, within etcd's default --max-txn-ops 128. */
export const TAG_DELETE_BATCH = 126;

/**
 * Deletes the tag keys among `tags` that nothing was written to after `through` (one compare each: mod_revision <=
 * through; an absent key passes and deletes nothing), in one txn, under the current horizon (`horizonMod`) and lease.
 * When a tag was written since (allocated again), nothing is deleted and the txn's failure branch reads every tag's
 * mod_revision back, so the caller retries the rest in one more round trip: `raced` names the ones written since.
 */
export async function deleteTagsThrough(
  client: Etcd3,
  keys: KeyLayout,
  tags: readonly string[],
  through: number,
  horizonMod: number,
  holder: Holder,
): Promise<{ deleted: number; raced: string[] }> {
  if (tags.length === 0) return { deleted: 0, raced: [] };
  if (tags.length > TAG_DELETE_BATCH) throw new Error(`deleteTagsThrough takes at most ${TAG_DELETE_BATCH} tags per txn, got ${tags.length}`);
  const res = await client.kv.txn({
    compare: [
      { key: Buffer.from(keys.horizon), target: 'Mod', result: 'Equal', mod_revision: horizonMod },
      holderCompare(holder),
      ...tags.map((t): ICompare => ({ key: Buffer.from(keys.tag(t)), target: 'Mod', result: 'Less', mod_revision: through + 1 })),
    ],
    success: tags.map((t): IRequestOp => ({ request_delete_range: { key: Buffer.from(keys.tag(t)) } })),
    failure: [
      { request_range: { key: Buffer.from(keys.horizon), keys_only: true } },
      { request_range: { key: Buffer.from(holder.key), keys_only: true } },
      ...tags.map((t): IRequestOp => ({ request_range: { key: Buffer.from(keys.tag(t)), keys_only: true } })),
    ],
  });
  if (res.succeeded) return { deleted: res.responses.reduce((n, r) => n + Number(r.response_delete_range?.deleted ?? 0), 0), raced: [] };
  const [h, held, ...now] = res.responses.map((r) => r.response_range?.kvs[0]);
  if (Number(h?.mod_revision ?? 0) !== horizonMod || Number(held?.create_revision ?? 0) !== holder.createRevision) throw new NotMaintainer(`deleting ${tags.length} tag keys`);
  return { deleted: 0, raced: tags.filter((_, i) => Number(now[i]?.mod_revision ?? 0) > through) };
}

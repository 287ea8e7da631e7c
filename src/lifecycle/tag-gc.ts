// Tag-key GC: the `ep:` of a released endpoint and the `ip:` of a free address (in the 'block' tag layout: the
// `ipblock:` key of a block with no address held), last written at or before the horizon H, guard nothing any more
// and are deleted (one per pod name and address ever seen otherwise). Safe only
// after the horizon key has moved: a decision whose view is older than the move is fenced (HORIZON_FENCE), and a
// view at least as fresh has seen every event before H, so a deleted key reading as mod_revision 0 is the truth.
import type { AllocatorModel } from '../alloc/model.js';
import type { EventStore } from '../store/event-store.js';
import { deleteTagsThrough, tagPage, TAG_DELETE_BATCH, type Holder } from '../store/horizon.js';
import { blockAddresses, IP_BLOCK_KIND } from '../store/tag-layout.js';

/** Guard-key kinds that grow with churn and that GC may delete (the others name pools, subnets, reservations: bounded). */
export const COLLECTED_TAG_KINDS = ['ep:', 'ip:', IP_BLOCK_KIND] as const;

/** Delete txns in flight at once (a page of dead tags goes out together, not one round trip after another). */
const IN_FLIGHT = 4;
const PAGE = 2048;

export interface TagGcResult {
  readonly scanned: number;
  readonly deleted: number;
  /** Touched between the scan and the delete (kept: it is live again). */
  readonly raced: number;
}

/**
 * True when the guard key (a tag, or a block of the 'block' layout) still guards something live in the model at H:
 * a held address, an endpoint holding one, a block with any address held.
 */
export function guardsLive(model: AllocatorModel, tag: string): boolean {
  if (tag.startsWith('ep:')) return model.byEndpoint.has(tag.slice(3));
  if (tag.startsWith('ip:')) return model.byAddress.has(tag.slice(3));
  if (tag.startsWith(IP_BLOCK_KIND)) {
    const b = blockAddresses(tag);
    return b === undefined || b.addresses.some((a) => model.byAddress.has(`${b.scope}/${a}`));
  }
  return true;
}

/** True for a tag (or guard key) of a kind GC collects. */
export function isCollected(tag: string): boolean {
  return tag.startsWith('ep:') || tag.startsWith('ip:') || tag.startsWith(IP_BLOCK_KIND);
}

/**
 * Deletes collectable tag keys whose last event is at or before `horizon` (the model's revision), under the horizon
 * key's current mod_revision `horizonMod` and the maintenance lease: a sweep of every ep:/ip: tag key (keys only,
 * one page at a time: bounded memory, one read per key). It finds what an interrupted run left; a run that has just
 * passed over (h0, H] deletes what it saw with collectTouchedTags instead.
 */
export async function collectTags(store: EventStore, model: AllocatorModel, horizon: number, horizonMod: number, holder: Holder): Promise<TagGcResult> {
  checkModel(model, horizon);
  let scanned = 0;
  let deleted = 0;
  let raced = 0;
  for (const kind of COLLECTED_TAG_KINDS) {
    let from: string | undefined;
    for (;;) {
      const page = await tagPage(store.client, store.keys, kind, from, PAGE);
      if (page.tags.length === 0) break;
      from = page.tags[page.tags.length - 1]!.tag;
      scanned += page.tags.length;
      const r = await deleteDead(store, page.tags.filter((t) => t.mod <= horizon && !guardsLive(model, t.tag)).map((t) => t.tag), horizon, horizonMod, holder);
      deleted += r.deleted;
      raced += r.raced;
      if (!page.more) break;
    }
  }
  return { scanned, deleted, raced };
}

/**
 * Deletes, among `touched` (the collectable tags of the events in (h0, horizon] that a run has just passed over),
 * those that guard nothing live in the model at `horizon` and were not written after it. No scan: a tag whose last
 * event is in that span is in `touched`, and one whose last event is older was collected by an earlier run (or is
 * found by the sweep, collectTags, which a maintainer runs when it starts and every few runs).
 */
export async function collectTouchedTags(store: EventStore, model: AllocatorModel, touched: Iterable<string>, horizon: number, horizonMod: number, holder: Holder): Promise<TagGcResult> {
  checkModel(model, horizon);
  // Precise tags of the events -> the keys that guard them in the log's layout (several tags may share a block).
  const layout = await store.tagLayout();
  const keys = new Set<string>();
  let scanned = 0;
  for (const tag of touched) {
    scanned++;
    if (isCollected(tag)) keys.add(layout.guardOf(tag));
  }
  const dead = [...keys].filter((k) => !guardsLive(model, k));
  const r = await deleteDead(store, dead, horizon, horizonMod, holder);
  return { scanned, ...r };
}

function checkModel(model: AllocatorModel, horizon: number): void {
  if (model.revision > horizon) throw new Error(`tag GC needs the model at the horizon ${horizon}, got one at ${model.revision}`);
}

/**
 * Deletes `tags` (dead at `horizon`) in txns of TAG_DELETE_BATCH, IN_FLIGHT at once, each conditioned on every tag's
 * mod_revision <= horizon; a txn that meets a tag written since is sent again without it (its failure branch names it).
 */
async function deleteDead(store: EventStore, tags: readonly string[], horizon: number, horizonMod: number, holder: Holder): Promise<{ deleted: number; raced: number }> {
  let deleted = 0;
  let raced = 0;
  const batches: string[][] = [];
  for (let i = 0; i < tags.length; i += TAG_DELETE_BATCH) batches.push(tags.slice(i, i + TAG_DELETE_BATCH));
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, batches.length) }, async () => {
      for (let batch = batches.shift(); batch; batch = batches.shift()) {
        for (let rest = batch; rest.length > 0; ) {
          const r = await deleteTagsThrough(store.client, store.keys, rest, horizon, horizonMod, holder);
          deleted += r.deleted;
          if (r.raced.length === 0) break;
          raced += r.raced.length;
          const gone = new Set(r.raced);
          rest = rest.filter((t) => !gone.has(t)); // live again: its newer event is past the horizon
        }
      }
    }),
  );
  return { deleted, raced };
}

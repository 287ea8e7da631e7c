// Tag-key GC: the `ep:` of a released endpoint and the `ip:` of a free address, last written at or before the
// horizon H, guard nothing any more and are deleted (one per pod name and address ever seen otherwise). Safe only
// after the horizon key has moved: a decision whose view is older than the move is fenced (HORIZON_FENCE), and a
// view at least as fresh has seen every event before H, so a deleted key reading as mod_revision 0 is the truth.
import type { AllocatorModel } from '../alloc/model.js';
import type { EventStore } from '../store/event-store.js';
import { deleteTags, tagsThrough, type Holder } from '../store/horizon.js';

/** Tag kinds that grow with churn and that GC may delete (the others name pools, subnets, reservations: bounded). */
export const COLLECTED_TAG_KINDS = ['ep:', 'ip:'] as const;

/** Tags deleted per etcd txn (one compare each, plus horizon and lease: etcd's default --max-txn-ops is 128). */
const BATCH = 120;
/** Delete txns in flight at once (a page of dead tags goes out together, not one round trip after another). */
const IN_FLIGHT = 4;
const PAGE = 1024;

export interface TagGcResult {
  readonly scanned: number;
  readonly deleted: number;
  /** Touched between the scan and the delete (kept: it is live again). */
  readonly raced: number;
}

/** True when the tag still guards something live in the model at H: a held address or an endpoint holding one. */
export function guardsLive(model: AllocatorModel, tag: string): boolean {
  if (tag.startsWith('ep:')) return model.byEndpoint.has(tag.slice(3));
  if (tag.startsWith('ip:')) return model.byAddress.has(tag.slice(3));
  return true;
}

/**
 * Deletes collectable tag keys whose last event is at or before `horizon` (the model's revision), under the horizon
 * key's current mod_revision `horizonMod` and the maintenance lease. Bounded memory: one page of keys at a time.
 */
export async function collectTags(store: EventStore, model: AllocatorModel, horizon: number, horizonMod: number, holder: Holder): Promise<TagGcResult> {
  if (model.revision > horizon) throw new Error(`tag GC needs the model at the horizon ${horizon}, got one at ${model.revision}`);
  let scanned = 0;
  let deleted = 0;
  let raced = 0;
  for (const kind of COLLECTED_TAG_KINDS) {
    let from: string | undefined;
    for (;;) {
      const page = await tagsThrough(store.client, store.keys, kind, horizon, from, PAGE);
      if (page.length === 0) break;
      from = page[page.length - 1]!.tag;
      scanned += page.length;
      const dead = page.filter((t) => !guardsLive(model, t.tag));
      const batches: { tag: string; mod: number }[][] = [];
      for (let i = 0; i < dead.length; i += BATCH) batches.push(dead.slice(i, i + BATCH));
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          for (let batch = batches.shift(); batch; batch = batches.shift()) {
            if (await deleteTags(store.client, store.keys, batch, horizonMod, holder)) {
              deleted += batch.length;
              continue;
            }
            // One of them was written since the scan (allocated again): delete the others one by one.
            for (const t of batch) {
              if (await deleteTags(store.client, store.keys, [t], horizonMod, holder)) deleted++;
              else raced++;
            }
          }
        }),
      );
      if (page.length < PAGE) break;
    }
  }
  return { scanned, deleted, raced };
}

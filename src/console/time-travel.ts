// The allocator's model as it was at a past revision or time, replayed from the log (as `ipam replay --at` does for
// the projections): from the nearest horizon checkpoint at or before it (the horizon's, or one the archive keeps),
// then the log, for the console's time slider. A small cache keeps scrubbing back and forth cheap.
import { AllocatorModel } from '../alloc/model.js';
import { restoreModel } from '../alloc/model-checkpoint.js';
import type { ArchiveDir } from '../lifecycle/archive.js';
import { replayStart, retryWhileHorizonMoves, type PageSource } from '../lifecycle/log-source.js';
import type { EventStore } from '../store/event-store.js';

export type PointInTime = { readonly revision: number } | { readonly time: Date };

/** Replayed models kept (each holds a pool's allocations as they were: bounded by count, not by time). */
const CACHED_MODELS = 4;

export class TimeMachine {
  private readonly cache = new Map<string, AllocatorModel>();

  /** `pages`: the log across archive and etcd (default: etcd alone); `archive`: where kept checkpoints are. */
  constructor(
    private readonly store: EventStore,
    private readonly pages: PageSource = (o) => store.readPages(o),
    private readonly archive?: ArchiveDir,
  ) {}

  async modelAt(at: PointInTime): Promise<AllocatorModel> {
    const key = 'revision' in at ? `r${at.revision}` : `t${at.time.toISOString()}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recently used goes last
      this.cache.set(key, hit);
      return hit;
    }
    const m = await this.replay(at);
    this.cache.set(key, m);
    while (this.cache.size > CACHED_MODELS) this.cache.delete(this.cache.keys().next().value!);
    return m;
  }

  private async replay(at: PointInTime): Promise<AllocatorModel> {
    const now = await this.store.currentRevision();
    const until = 'revision' in at ? Math.min(at.revision, now) : now;
    const cutoff = 'time' in at ? at.time.getTime() : undefined;
    return retryWhileHorizonMoves(cutoff === undefined ? until : undefined, () => this.replayOnce(until, cutoff));
  }

  private async replayOnce(until: number, cutoff: number | undefined): Promise<AllocatorModel> {
    const { model: start } = await replayStart(this.store, this.archive, cutoff === undefined ? { until } : { asOf: new Date(cutoff) }, []);
    const m = start ? restoreModel(start) : new AllocatorModel();
    let last = m.revision;
    for await (const page of this.pages({ until, after: m.revision, afterIsCommit: m.revision > 0 })) {
      for (const e of page.events) {
        if (cutoff !== undefined && Date.parse(e.event.at) > cutoff) continue;
        m.apply(e.event, e.revision);
        last = e.revision;
      }
    }
    m.revision = cutoff === undefined ? until : last;
    return m;
  }
}

// The allocator's model as it was at a past revision or time, replayed from the log (as `ipam replay --at` does for
// the projections), for the console's time slider. A small cache keeps scrubbing back and forth cheap.
import { AllocatorModel } from '../alloc/model.js';
import type { EventStore } from '../store/event-store.js';

export type PointInTime = { readonly revision: number } | { readonly time: Date };

/** Replayed models kept (each holds a pool's allocations as they were: bounded by count, not by time). */
const CACHED_MODELS = 4;

export class TimeMachine {
  private readonly cache = new Map<string, AllocatorModel>();

  constructor(private readonly store: EventStore) {}

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
    const m = new AllocatorModel();
    let last = 0;
    for await (const page of this.store.readPages({ until })) {
      for (const e of page.events) {
        if (cutoff !== undefined && Date.parse(e.event.at) > cutoff) continue;
        m.apply(e.event, e.revision);
        last = e.revision;
      }
    }
    m.revision = 'revision' in at ? until : last;
    return m;
  }
}

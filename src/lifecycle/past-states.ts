// The projections as they were at a past revision, for exact reads of the past (the Kubernetes-style API's
// resourceVersionMatch=Exact): from the nearest checkpoint at or before it (the horizon's, or one the archive keeps
// when it is before the horizon), then the log up to it, archive + etcd (replayStart, as `ipam replay --at` reads).
// Each object carries the revision of its last change since that checkpoint (the checkpoint's revision if none).
// Bounded: one replay at a time, the last CACHED states kept.
import type { LoggedEvent } from '../../events/catalogue.js';
import { LiveProjections, handledTypes, type AnyProjection } from '../../projections/runtime.js';
import type { K8sObject } from '../../projections/types.js';
import type { EventStore } from '../store/event-store.js';
import type { ArchiveDir } from './archive.js';
import { replayStart, retryWhileHorizonMoves } from './log-source.js';

export interface PastView {
  /** Every commit at or before this revision is applied, none after. */
  readonly revision: number;
  /** Revision the read started from (a checkpoint's, 0 for the start of the log): its cost is the log after it. */
  readonly startedAt: number;
  list(projection: string): Iterable<K8sObject>;
  get(projection: string, key: string): K8sObject | undefined;
  /** Revision of the last change of an object (within the replay; `startedAt` when it did not change). */
  versionOf(projection: string, key: string): number;
}

/** States at past revisions kept (each is a whole set of projections, as large as the live one). */
const CACHED = 2;

export class PastStates {
  private readonly cache = new Map<number, Promise<PastView>>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: EventStore,
    private readonly archive: ArchiveDir | undefined,
    private readonly projections: readonly AnyProjection[],
  ) {}

  /** The projections at `revision` (ArchiveRequired when it is before the horizon and there is no archive). */
  at(revision: number): Promise<PastView> {
    let p = this.cache.get(revision);
    if (p) {
      this.cache.delete(revision); // most recently used goes last
    } else {
      p = this.tail.then(() => this.replay(revision));
      this.tail = p.catch(() => undefined);
      void p.catch(() => this.cache.get(revision) === p && this.cache.delete(revision)); // failures are not kept
    }
    this.cache.set(revision, p);
    while (this.cache.size > CACHED) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  /** The horizon may move under the replay: start again from the new one (a few times; see retryWhileHorizonMoves). */
  private replay(revision: number): Promise<PastView> {
    return retryWhileHorizonMoves(revision, () => this.replayOnce(revision));
  }

  private async replayOnce(revision: number): Promise<PastView> {
    const { from, pages } = await replayStart(this.store, this.archive, { until: revision }, this.projections);
    const startedAt = from?.revision ?? 0;
    if (startedAt > revision) throw new Error(`the replay would start at ${startedAt}, after ${revision}`);
    // The live runtime without a subscription: the same batch application and change tracking as the daemon's.
    const states = new LiveProjections(this.store, this.projections, from);
    const versions = new Map<string, Map<string, number>>();
    states.onChange((changes, rev) => {
      for (const c of changes) {
        let byKey = versions.get(c.projection);
        if (!byKey) versions.set(c.projection, (byKey = new Map()));
        byKey.set(c.key, rev);
      }
    });
    const types = [...new Set(this.projections.flatMap(handledTypes))];
    for await (const page of pages({ after: startedAt, until: revision, types, afterIsCommit: startedAt > 0 })) {
      applyByCommit(states, page.events);
      states.apply([], page.through);
    }
    states.apply([], revision);
    return {
      revision,
      startedAt,
      list: (p) => states.list(p),
      get: (p, key) => states.get(p, key),
      versionOf: (p, key) => versions.get(p)?.get(key) ?? startedAt,
    };
  }
}

/** One batch per commit, so each changed object is given the revision of its own commit. */
function applyByCommit(states: LiveProjections, events: readonly LoggedEvent[]): void {
  for (let i = 0; i < events.length; ) {
    const rev = events[i]!.revision;
    let j = i + 1;
    while (j < events.length && events[j]!.revision === rev) j++;
    states.apply(events.slice(i, j), rev);
    i = j;
  }
}

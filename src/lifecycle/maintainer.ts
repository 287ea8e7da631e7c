// Log maintenance, run by the one daemon holding the maintenance lease: choose the horizon H by the retention
// policy, archive the records up to H (durable and verified), save the verified checkpoint at H, move the horizon key
// (the fence), then delete the archived records and the tag keys that guard nothing live. Every step can be cut short
// (kill -9) and the next run resumes: nothing is deleted that the archive and the checkpoint do not cover.
import type { LoggedEvent } from '../../events/catalogue.js';
import { decodeRecord, readRecords } from '../store/reader.js';
import { horizonCheckpointOf, loadHorizonCheckpoint, pruneHorizonCheckpoints, saveHorizonCheckpoint, statesOfHorizon } from '../../projections/checkpoint.js';
import { applyBatch, initialStates, ownStates, type AnyProjection, type ProjectionStates } from '../../projections/runtime.js';
import { AllocatorModel } from '../alloc/model.js';
import { restoreModel } from '../alloc/model-checkpoint.js';
import type { EventStore } from '../store/event-store.js';
import { deleteRecords, moveHorizon, readHorizon, recordsThrough, type Holder } from '../store/horizon.js';
import type { MaintenanceLease } from '../store/lease.js';
import type { ArchiveDir, ArchivedRecord } from './archive.js';
import type { FootprintFn, RetentionPolicy } from './retention.js';
import { collectTags, type TagGcResult } from './tag-gc.js';

export interface MaintenanceRun {
  readonly role: 'maintainer' | 'follower';
  /** Horizon before and after the run. */
  readonly from: number;
  readonly horizon: number;
  readonly archivedRecords: number;
  readonly segments: number;
  readonly deletedRecords: number;
  readonly tags?: TagGcResult;
  /** The age was waived: the prefix is over its byte budget. */
  readonly overBudget: boolean;
  readonly ms: number;
  /** Milliseconds per step: pass (read, apply, archive), checkpoint, move, delete, tags. */
  readonly steps?: Readonly<Record<string, number>>;
}

export interface MaintainerOptions {
  readonly store: EventStore;
  readonly archive: ArchiveDir;
  readonly lease: MaintenanceLease;
  readonly projections: readonly AnyProjection[];
  readonly policy: RetentionPolicy;
  readonly footprint?: FootprintFn;
  readonly now?: () => number;
  /** Test hook: called between steps, by name (a test may kill the process there). */
  readonly onStep?: (step: string) => void | Promise<void>;
}

/** Records deleted from etcd per txn (plus two compares: horizon and lease). */
const DELETE_BATCH = 64;

export class Maintainer {
  /** The state at the horizon this maintainer last moved to (saves re-reading its checkpoint next run). */
  private atHorizon: { mod: number; model: AllocatorModel; states: ProjectionStates } | undefined;

  constructor(private readonly o: MaintainerOptions) {}

  /** One maintenance pass if this process holds (or can take) the lease; a follower's pass does nothing. */
  async runOnce(): Promise<MaintenanceRun> {
    const t0 = performance.now();
    const { store, archive, policy } = this.o;
    const holder = await this.o.lease.tryAcquire();
    const hs = await readHorizon(store.client, store.keys);
    const h0 = hs.horizon?.revision ?? 0;
    const idle = { from: h0, horizon: h0, archivedRecords: 0, segments: 0, deletedRecords: 0, overBudget: false };
    if (!holder) return { role: 'follower', ...idle, ms: performance.now() - t0 };
    await archive.load();
    const archived = archive.through;
    if (archived < h0) throw new Error(`archive ${archive.dir} ends at revision ${archived} but the horizon is at ${h0}: it is not this log's archive (or lost segments)`);

    // The state at the current horizon: kept from our own last move, else its checkpoint, else the empty state.
    const kept = this.atHorizon?.mod === hs.mod ? this.atHorizon : undefined;
    this.atHorizon = undefined; // the pass below mutates it; set again only once a run completes
    const base = !kept && hs.horizon ? await loadHorizonCheckpoint(store, hs.horizon.checkpoint) : undefined;
    const model = kept?.model ?? (base ? restoreModel(base.model) : new AllocatorModel());
    const states: ProjectionStates = kept?.states ?? (base ? ownStates(this.o.projections, statesOfHorizon(base)) : initialStates(this.o.projections));

    const now = this.o.now?.() ?? Date.now();
    const overBudget = policy.maxBytes !== undefined && this.o.footprint !== undefined && (await this.o.footprint()).bytes > policy.maxBytes;
    const head = await store.headRevision();
    // An interrupted run archived up to `archived` without moving the horizon: finish that first, whatever the policy.
    const limit = Math.max(head - policy.minRevisions, archived);
    const cutoff = now - policy.minAgeMs;

    let h = h0;
    let lastAt = hs.horizon?.lastEventAt ?? '';
    let segment: ArchivedRecord[] = [];
    let segmentEvents = 0;
    let firstAt = '';
    let segLastAt = '';
    let archivedRecords = 0;
    let segments = 0;
    const flush = async (upTo: number) => {
      if (upTo <= archive.through) return;
      await archive.append(segment, upTo, { firstAt, lastAt: segLastAt }, segmentEvents);
      await this.o.onStep?.('segment');
      archivedRecords += segment.length;
      segments++;
      segment = [];
      segmentEvents = 0;
      firstAt = segLastAt = '';
    };
    if (limit > h0) {
      let seen = 0;
      pass: for await (const page of readRecords(store.client, store.keys, { after: h0, until: limit, afterIsCommit: h0 > 0 })) {
        const batch: LoggedEvent[] = [];
        for (const r of page.records) {
          const events = decodeRecord(r.kv, r.revision, store.codec, undefined, undefined, undefined) as LoggedEvent[];
          if (r.revision > archived) {
            const at = events[0] ? Date.parse(events[0].event.at) : Number.NEGATIVE_INFINITY;
            if (seen >= policy.maxRecordsPerRun || (!overBudget && at > cutoff)) break pass;
          }
          seen++;
          for (const e of events) model.apply(e.event, e.revision);
          for (const e of events) batch.push(e);
          h = r.revision;
          if (events.length > 0) lastAt = events[events.length - 1]!.event.at;
          if (r.revision > archived) {
            segment.push({ revision: r.revision, key: r.kv.key.toString().slice(store.keys.prefix.length), value: r.kv.value.toString() });
            segmentEvents += events.length;
            if (events.length > 0) {
              firstAt ||= events[0]!.event.at;
              segLastAt = events[events.length - 1]!.event.at;
            }
            if (segment.length >= policy.segmentRecords) await flush(r.revision);
          }
        }
        applyBatch(this.o.projections, states, batch);
      }
      // Too little to be worth a move (and its checkpoint): leave it all for a later run. Nothing was flushed yet.
      const worth = Math.min(policy.minRecordsPerMove, policy.segmentRecords);
      if (archived <= h0 && segments === 0 && segment.length < worth && !overBudget) {
        return { role: 'maintainer', ...idle, overBudget, ms: performance.now() - t0 };
      }
      await flush(h);
    }
    states.revision = h;
    model.revision = h;

    const steps: Record<string, number> = {};
    let mark = t0;
    const lap = (name: string) => {
      const now = performance.now();
      steps[name] = Math.round(now - mark);
      mark = now;
    };
    lap('pass');
    let horizonMod = hs.mod;
    let generation = hs.horizon?.checkpoint;
    if (h > h0) {
      generation = await saveHorizonCheckpoint(store, this.o.projections, horizonCheckpointOf(model, this.o.projections, states));
      await this.o.onStep?.('checkpoint');
      lap('checkpoint');
      horizonMod = await moveHorizon(store.client, store.keys, store.writer, { revision: h, lastEventAt: lastAt, movedAt: new Date(now).toISOString(), checkpoint: generation }, hs.mod, holder);
      await this.o.onStep?.('moved');
      lap('move');
    }
    if (h === 0) return { role: 'maintainer', ...idle, overBudget, ms: performance.now() - t0 };
    // Finish what the horizon covers (also what an interrupted run left): records, then tags, then old checkpoints.
    const deletedRecords = await this.deleteArchived(h, horizonMod, holder);
    lap('delete');
    const tags = await collectTags(store, model, h, horizonMod, holder);
    lap('tags');
    if (generation) await pruneHorizonCheckpoints(store, generation);
    this.atHorizon = { mod: horizonMod, model, states };
    return { role: 'maintainer', from: h0, horizon: h, archivedRecords, segments, deletedRecords, tags, overBudget, ms: performance.now() - t0, steps };
  }

  private async deleteArchived(h: number, horizonMod: number, holder: Holder): Promise<number> {
    const { store, archive } = this.o;
    let n = 0;
    for (;;) {
      const recs = await recordsThrough(store.client, store.keys, h, DELETE_BATCH * 4);
      if (recs.length === 0) return n;
      const beyond = recs.find((r) => r.revision > archive.through);
      if (beyond) throw new Error(`record at ${beyond.revision} is not archived (archive ends at ${archive.through}); not deleting it`);
      for (let i = 0; i < recs.length; i += DELETE_BATCH) {
        const batch = recs.slice(i, i + DELETE_BATCH);
        await deleteRecords(store.client, store.keys, batch.map((r) => r.key), horizonMod, holder);
        n += batch.length;
        await this.o.onStep?.('deleted');
      }
    }
  }
}

/** Runs maintenance passes every `policy.intervalMs` until stopped; one pass at a time. */
export class MaintenanceLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly m: Maintainer,
    private readonly intervalMs: number,
    private readonly report: (r: MaintenanceRun | Error) => void,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.m
        .runOnce()
        .then(this.report, (e: unknown) => this.report(e instanceof Error ? e : new Error(String(e))))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** Waits for the pass in progress (if any). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

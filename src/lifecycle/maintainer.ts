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
import { collectTags, collectTouchedTags, isCollected, type TagGcResult } from './tag-gc.js';

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
  /**
   * This daemon owns its etcd (the local one `ipam serve` starts without --etcd): after each horizon move, compact
   * etcd's history up to the move, so the db's freed pages are reused at the pace the horizon moves instead of a
   * minute of churn later (auto-compaction). Never on a shared etcd: compaction needs etcd's root there and is the
   * operator's (kube-apiserver's) to do.
   */
  readonly compactEtcd?: boolean;
  /** Test hook: called between steps, by name (a test may kill the process there). */
  readonly onStep?: (step: string) => void | Promise<void>;
}

/** Records deleted from etcd per txn (plus two compares: horizon and lease; etcd's default --max-txn-ops is 128). */
const DELETE_BATCH = 126;
/** Delete txns in flight at once. */
const DELETE_IN_FLIGHT = 4;
/** Records read per etcd range in the pass. */
const PASS_PAGE = 256;
/** Every this many runs the tag GC sweeps every ep:/ip: tag key instead of only the tags the run passed over. */
const SWEEP_EVERY = 32;

/**
 * Where this maintainer's pass stands: the state applied through `revision` on top of the horizon whose key had
 * mod_revision `mod`, the collectable tags of the events after that horizon, and the records after the archive's end
 * not yet written to a segment. Kept between runs, so a run continues where the last one stopped reading (a run that
 * found too little to move the horizon for leaves it here) instead of re-reading from the horizon.
 */
interface Cursor {
  readonly mod: number;
  readonly horizon: number;
  revision: number;
  readonly model: AllocatorModel;
  readonly states: ProjectionStates;
  lastAt: string;
  readonly touched: Set<string>;
  segment: ArchivedRecord[];
  segmentEvents: number;
  firstAt: string;
  segLastAt: string;
}

export class Maintainer {
  private cursor: Cursor | undefined;
  /** Runs since the last tag sweep (a maintainer sweeps on its first run: what an interrupted run left). */
  private sinceSweep = Number.POSITIVE_INFINITY;

  constructor(private readonly o: MaintainerOptions) {}

  /** One maintenance pass if this process holds (or can take) the lease; a follower's pass does nothing. */
  async runOnce(): Promise<MaintenanceRun> {
    const t0 = performance.now();
    const { store, archive, policy } = this.o;
    const holder = await this.o.lease.tryAcquire();
    const hs = await readHorizon(store.client, store.keys);
    const h0 = hs.horizon?.revision ?? 0;
    const idle = { from: h0, horizon: h0, archivedRecords: 0, segments: 0, deletedRecords: 0, overBudget: false };
    if (!holder) {
      this.cursor = undefined;
      return { role: 'follower', ...idle, ms: performance.now() - t0 };
    }
    await archive.load();
    const archived = archive.through;
    if (archived < h0) throw new Error(`archive ${archive.dir} ends at revision ${archived} but the horizon is at ${h0}: it is not this log's archive (or lost segments)`);

    // The state: our own cursor when it stands on the current horizon, else the horizon's checkpoint, else empty.
    let c = this.cursor?.mod === hs.mod && this.cursor.horizon === h0 ? this.cursor : undefined;
    this.cursor = undefined; // the pass below mutates it; kept again only once the run completes
    if (!c) {
      const base = hs.horizon ? await loadHorizonCheckpoint(store, hs.horizon.checkpoint) : undefined;
      c = {
        mod: hs.mod,
        horizon: h0,
        revision: h0,
        model: base ? restoreModel(base.model) : new AllocatorModel(),
        states: base ? ownStates(this.o.projections, statesOfHorizon(base)) : initialStates(this.o.projections),
        lastAt: hs.horizon?.lastEventAt ?? '',
        touched: new Set(),
        segment: [],
        segmentEvents: 0,
        firstAt: '',
        segLastAt: '',
      };
      this.sinceSweep = Number.POSITIVE_INFINITY;
    }
    const cur = c;

    const now = this.o.now?.() ?? Date.now();
    const overBudget = policy.maxBytes !== undefined && this.o.footprint !== undefined && (await this.o.footprint()).bytes > policy.maxBytes;
    const head = await store.headRevision();
    // An interrupted run archived up to `archived` without moving the horizon: finish that first, whatever the policy.
    const limit = Math.max(head - policy.minRevisions, archived);
    const cutoff = now - policy.minAgeMs;

    let archivedRecords = 0;
    let segments = 0;
    const flush = async (upTo: number) => {
      if (upTo <= archive.through) return;
      await archive.append(cur.segment, upTo, { firstAt: cur.firstAt, lastAt: cur.segLastAt }, cur.segmentEvents);
      await this.o.onStep?.('segment');
      archivedRecords += cur.segment.length;
      segments++;
      cur.segment = [];
      cur.segmentEvents = 0;
      cur.firstAt = cur.segLastAt = '';
    };
    const steps: Record<string, number> = {};
    let mark = t0;
    const lap = (name: string) => {
      const t = performance.now();
      steps[name] = Math.round(t - mark);
      mark = t;
    };
    if (limit > cur.revision) {
      let seen = 0;
      let stop = false;
      for await (const page of readRecords(store.client, store.keys, { after: cur.revision, until: limit, afterIsCommit: cur.revision > 0, pageSize: PASS_PAGE })) {
        const batch: LoggedEvent[] = [];
        for (const r of page.records) {
          const events = decodeRecord(r.kv, r.revision, store.codec, undefined, undefined, undefined) as LoggedEvent[];
          if (r.revision > archived) {
            const at = events[0] ? Date.parse(events[0].event.at) : Number.NEGATIVE_INFINITY;
            if (seen >= policy.maxRecordsPerRun || (!overBudget && at > cutoff)) {
              stop = true;
              break;
            }
          }
          seen++;
          for (const e of events) {
            cur.model.apply(e.event, e.revision);
            batch.push(e);
            for (const tag of e.event.tags) if (isCollected(tag)) cur.touched.add(tag);
          }
          cur.revision = r.revision;
          if (events.length > 0) cur.lastAt = events[events.length - 1]!.event.at;
          if (r.revision > archived) {
            cur.segment.push({ revision: r.revision, key: r.kv.key.toString().slice(store.keys.prefix.length), value: r.kv.value.toString() });
            cur.segmentEvents += events.length;
            if (events.length > 0) {
              cur.firstAt ||= events[0]!.event.at;
              cur.segLastAt = events[events.length - 1]!.event.at;
            }
            if (cur.segment.length >= policy.segmentRecords) await flush(r.revision);
          }
        }
        // The model has every event up to here: so must the projections, also when the pass stops inside this page.
        applyBatch(this.o.projections, cur.states, batch);
        if (stop) break;
      }
    }
    const h = cur.revision;
    // Too little to be worth a move (and its checkpoint): keep the cursor (state and unwritten records) for the next run.
    const worth = Math.min(policy.minRecordsPerMove, policy.segmentRecords);
    if (h > h0 && archived <= h0 && archive.through <= h0 && cur.segment.length < worth && !overBudget) {
      this.cursor = cur;
      return { role: 'maintainer', ...idle, overBudget, ms: performance.now() - t0 };
    }
    await flush(h);
    cur.states.revision = h;
    cur.model.revision = h;
    lap('pass');

    let horizonMod = hs.mod;
    let generation = hs.horizon?.checkpoint;
    if (h > h0) {
      generation = await saveHorizonCheckpoint(store, this.o.projections, horizonCheckpointOf(cur.model, this.o.projections, cur.states));
      await this.o.onStep?.('checkpoint');
      lap('checkpoint');
      horizonMod = await moveHorizon(store.client, store.keys, store.writer, { revision: h, lastEventAt: cur.lastAt, movedAt: new Date(now).toISOString(), checkpoint: generation }, hs.mod, holder);
      await this.o.onStep?.('moved');
      lap('move');
    }
    if (h === 0) return { role: 'maintainer', ...idle, overBudget, ms: performance.now() - t0 };
    // Finish what the horizon covers (also what an interrupted run left): records, then tags, then old checkpoints.
    const deletedRecords = await this.deleteArchived(h, horizonMod, holder);
    lap('delete');
    const sweep = this.sinceSweep >= SWEEP_EVERY;
    const tags = sweep ? await collectTags(store, cur.model, h, horizonMod, holder) : await collectTouchedTags(store, cur.model, cur.touched, h, horizonMod, holder);
    this.sinceSweep = sweep ? 0 : this.sinceSweep + 1;
    lap(sweep ? 'tags (sweep)' : 'tags');
    if (generation && h > h0) await pruneHorizonCheckpoints(store, generation);
    lap('prune');
    if (this.o.compactEtcd && horizonMod > hs.mod) {
      // Nothing of the engine needs history before the move: reads are ranges of current keys, and a watch the
      // compaction overtakes re-reads (src/store/subscription.ts). Already compacted further: nothing to do.
      await store.client.kv.compact({ revision: horizonMod, physical: false }).catch((e: unknown) => {
        if (!/compacted/.test(String((e as Error).message))) throw e;
      });
      lap('compact');
    }
    this.cursor = { ...cur, mod: horizonMod, horizon: h, touched: new Set() };
    return { role: 'maintainer', from: h0, horizon: h, archivedRecords, segments, deletedRecords, tags, overBudget, ms: performance.now() - t0, steps };
  }

  /** Deletes every record at or before `h` (each archived), DELETE_BATCH per txn, DELETE_IN_FLIGHT txns at once. */
  private async deleteArchived(h: number, horizonMod: number, holder: Holder): Promise<number> {
    const { store, archive } = this.o;
    let n = 0;
    for (;;) {
      const recs = await recordsThrough(store.client, store.keys, h, DELETE_BATCH * DELETE_IN_FLIGHT * 4);
      if (recs.length === 0) return n;
      const beyond = recs.find((r) => r.revision > archive.through);
      if (beyond) throw new Error(`record at ${beyond.revision} is not archived (archive ends at ${archive.through}); not deleting it`);
      const batches: Buffer[][] = [];
      for (let i = 0; i < recs.length; i += DELETE_BATCH) batches.push(recs.slice(i, i + DELETE_BATCH).map((r) => r.key));
      await Promise.all(
        Array.from({ length: Math.min(DELETE_IN_FLIGHT, batches.length) }, async () => {
          for (let batch = batches.shift(); batch; batch = batches.shift()) {
            await deleteRecords(store.client, store.keys, batch, horizonMod, holder);
            n += batch.length;
            await this.o.onStep?.('deleted');
          }
        }),
      );
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

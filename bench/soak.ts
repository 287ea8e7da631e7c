// `bench soak`: churn through the engine for many cycles (a NEW pod allocated, the oldest live one released, as
// Deployments and Jobs churn) with the log's lifecycle running beside it (from the second 10% on; the first is the baseline), retention compressed in time so the
// horizon moves while it runs. Every 10% it records etcd's db size, the keys under the prefix and this process's
// RSS; it compares throughput while archiving with the first 10%, and checks afterwards that the whole log (archive
// + etcd) holds no address twice, every release matches an allocation, and a replay of the archive up to a revision
// recorded mid-run equals the model as it was then.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint, LoggedEvent } from '../events/catalogue.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { LiveProjections, readModelOf, replay } from '../projections/runtime.js';
import type { ReadModel } from '../projections/read-model.js';
import { Allocator } from '../src/alloc/allocator.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { readLogWithArchive, replayStart } from '../src/lifecycle/log-source.js';
import { verifyLifecycle } from '../src/lifecycle/verify.js';
import { Maintainer, MaintenanceLoop, type MaintenanceRun } from '../src/lifecycle/maintainer.js';
import { DEFAULT_RETENTION, type RetentionPolicy } from '../src/lifecycle/retention.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { readHorizon } from '../src/store/horizon.js';
import { MaintenanceLease } from '../src/store/lease.js';
import { prefixEnd } from '../src/store/keys.js';
import { round } from './lib/stats.js';

export interface SoakOptions {
  readonly endpoints: string[];
  readonly cycles: number;
  readonly live: number;
  readonly concurrency: number;
  readonly policy: RetentionPolicy;
  /** Revisions of etcd history kept at each 10% step (the bench compacts, as kube-apiserver or auto-compaction would). */
  readonly compactKeep: number;
  /**
   * What to check once the churn is done: 'full' (default) the log's invariants, both replays --at and ipam check's
   * lifecycle verification; 'log' only the log's invariants (no address twice, every release matched), which a test
   * of the footprint alone needs (the replays re-read the whole log several times).
   */
  readonly checks?: 'full' | 'log';
  readonly progress?: (line: string) => void;
}

/**
 * The soak's retention, compressed in time so the horizon moves while it runs: commits older than `minAge` and more
 * than `minRevisions` behind the head go, checked every `interval`; no byte budget (the age alone moves it).
 */
export function soakPolicy(o: { minAgeMs?: number; minRevisions?: number; intervalMs?: number; minRecordsPerMove?: number; maxRecordsPerRun?: number } = {}): RetentionPolicy {
  return {
    ...DEFAULT_RETENTION,
    maxBytes: undefined,
    minAgeMs: o.minAgeMs ?? 2_000,
    minRevisions: o.minRevisions ?? 100,
    intervalMs: o.intervalMs ?? 1_000,
    segmentRecords: 5_000,
    minRecordsPerMove: o.minRecordsPerMove ?? 200,
    maxRecordsPerRun: o.maxRecordsPerRun ?? DEFAULT_RETENTION.maxRecordsPerRun,
  };
}

export interface FootprintPoint {
  readonly cycles: number;
  readonly dbSizeMB: number;
  readonly dbSizeInUseMB: number;
  readonly keys: number;
  /** This process's RSS: after a full GC when `afterGc` (node --expose-gc), as sampled otherwise. */
  readonly rssMB: number;
  readonly rssBeforeGcMB: number;
  readonly afterGc: boolean;
  /** V8's heap in use and external memory (buffers) then: what of the RSS is live JavaScript data. */
  readonly heapUsedMB: number;
  readonly externalMB: number;
  readonly horizon: number;
  /** etcd's revision then (the horizon's lag behind it is what retention keeps plus what maintenance has not reached). */
  readonly revision: number;
  readonly cyclesPerSec: number;
}

export interface SoakReport {
  readonly scenario: 'soak';
  readonly cycles: number;
  readonly live: number;
  readonly concurrency: number;
  readonly policy: RetentionPolicy;
  readonly footprint: FootprintPoint[];
  readonly growth: { readonly dbSizeMB: number; readonly rssMB: number; readonly from: number; readonly to: number };
  readonly throughput: { readonly first10pct: number; readonly whileArchiving: number; readonly ratio: number; readonly archivingDeciles: number };
  readonly maintenance: {
    readonly runs: number;
    readonly moves: number;
    readonly archivedRecords: number;
    readonly segments: number;
    readonly tagsDeleted: number;
    readonly failures: number;
    readonly firstError?: string;
    /** Milliseconds per maintenance step summed over the runs that moved the horizon, and the median run. */
    readonly stepsMs: Record<string, number>;
    readonly medianMoveMs: number;
    readonly maxMoveMs: number;
  };
  readonly invariants: {
    readonly duplicates: number;
    readonly badReleases: number;
    readonly events: number;
    /** A replay of archive + etcd up to the revision recorded at 30% equals the allocator's model recorded then. */
    readonly replayAtMatches: boolean;
    readonly replayAtRevision: number;
    /**
     * `ipam replay --at T` (its code: replayStart + replay through the archive) of the time T recorded at 30%, run
     * at the end when the horizon has passed T, equals the live projections (the daemon's runtime, following the
     * allocator) recorded at T: every object of every projection.
     */
    readonly replayAtTime: { readonly at: string; readonly revision: number; readonly horizonAtEnd: number; readonly beforeHorizon: boolean; readonly objects: number; readonly matches: boolean; readonly differing: string[] };
    /** `ipam check`'s lifecycle verification at the end: archive continuity, checkpoint at H == replay of the archive to H. */
    readonly lifecycleProblems: string[];
    readonly details: string[];
  };
  readonly floors: { readonly dbGrowthUnder10MB: boolean; readonly rssGrowthUnder10MB: boolean; readonly archivingAtLeast80pct: boolean };
}

const POOL = { ipVersion: 4, subnet: '10.96.0.0/16', ips: ['10.96.0.1-10.96.255.254'], default: true } as const;

function pod(n: number): Endpoint {
  const name = `soak-${n.toString(36)}`;
  return { namespace: 'soak', name, uid: `uid-${name}`, containerID: `ctr-${name}`, node: `node-${n % 50}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: 'soak-rs' } };
}

/** Every object of every projection, as sorted JSON lines per projection (order-free). */
function objectsOf(m: ReadModel): Map<string, string[]> {
  return new Map(ALL_PROJECTIONS.map((p) => [p.name, [...m.list(p.name)].map((o) => JSON.stringify(o)).sort()]));
}

const picture = (m: AllocatorModel) => [...m.byId.values()].map((a) => `${a.address} ${a.allocationId}`).sort().join('\n');

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const prefix = `/bench-soak-${randomBytes(4).toString('hex')}/`;
  const dir = await mkdtemp(join(tmpdir(), 'ipam-soak-archive-'));
  const client = openEtcd({ endpoints: o.endpoints, callTimeoutMs: 30_000 });
  const store = new EventStore(client, { prefix });
  await store.open();
  const engine = new Allocator(store, { maxAttempts: 64 });
  const mClient = openEtcd({ endpoints: o.endpoints, callTimeoutMs: 30_000 });
  const mStore = new EventStore(mClient, { prefix });
  await mStore.open();
  const archive = new ArchiveDir(dir, prefix);
  const lease = new MaintenanceLease(mClient, mStore.keys, 'bench-soak');
  const maint = { runs: 0, moves: 0, archivedRecords: 0, segments: 0, tagsDeleted: 0, failures: 0, firstError: undefined as string | undefined, stepsMs: {} as Record<string, number> };
  const moveMs: number[] = [];
  let movedInDecile = false;
  const loop = new MaintenanceLoop(new Maintainer({ store: mStore, archive, lease, projections: ALL_PROJECTIONS, policy: o.policy }), o.policy.intervalMs, (r: MaintenanceRun | Error) => {
    if (r instanceof Error) {
      maint.failures++;
      maint.firstError ??= r.message;
      return;
    }
    maint.runs++;
    maint.archivedRecords += r.archivedRecords;
    maint.segments += r.segments;
    maint.tagsDeleted += r.tags?.deleted ?? 0;
    if (r.horizon > r.from) {
      maint.moves++;
      moveMs.push(r.ms);
      for (const [k, v] of Object.entries(r.steps ?? {})) maint.stepsMs[k] = (maint.stepsMs[k] ?? 0) + v;
      o.progress?.(`  maintenance: horizon ${r.from} -> ${r.horizon}, ${r.archivedRecords} records archived, ${r.deletedRecords} deleted, ${r.tags?.deleted ?? 0} tags deleted in ${Math.round(r.ms)} ms (${Object.entries(r.steps ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')})`);
      movedInDecile = true;
      compactions = compactions.then(compact); // etcd's history of the freed keys goes too (kube-apiserver compacts every 5 min; here in compressed time)
    }
  });
  let compactions = Promise.resolve();
  const compact = async () => {
    const rev = await store.currentRevision();
    if (rev > o.compactKeep) await client.kv.compact({ revision: rev - o.compactKeep, physical: false }).catch(() => undefined);
  };
  // The daemon's live projections, following the allocator's subscription (as src/daemon/daemon.ts wires them).
  const live = new LiveProjections(store, ALL_PROJECTIONS);
  live.follow(engine, { coalesceMs: 100 });
  try {
    await engine.start({ onApplied: (events, through) => live.apply(events, through) });
    await engine.definePool('soak', POOL, { at: new Date().toISOString() });
    const held: number[] = [];
    let next = 0;
    const cycle = async () => {
      const n = next++;
      const at = new Date().toISOString();
      await engine.allocate({ endpoint: pod(n), at });
      held.push(n);
      if (held.length > o.live) await engine.releaseContainer(`ctr-${pod(held.shift()!).name}`, undefined, at);
    };
    const footprint: FootprintPoint[] = [];
    const archiving: boolean[] = [];
    const step = Math.max(1, Math.floor(o.cycles / 10));
    let done = 0;
    let replayAt: { revision: number; picture: string } | undefined;
    let liveAt: { at: string; revision: number; objects: Map<string, string[]> } | undefined;
    while (done < o.cycles) {
      const n = Math.min(step, o.cycles - done);
      movedInDecile = false;
      const t0 = performance.now();
      let started = 0;
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (started < n) {
            started++;
            await cycle();
          }
        }),
      );
      const rate = n / ((performance.now() - t0) / 1000);
      done += n;
      archiving.push(movedInDecile);
      await engine.sync();
      if (!replayAt && done >= o.cycles * 0.3) {
        replayAt = { revision: engine.revision, picture: picture(engine.model) };
        // The churn is paused between tenths: every event so far has `at` <= T, every later one > T.
        await live.waitFor(engine.revision);
        await new Promise((r) => setTimeout(r, 5));
        const at = new Date().toISOString();
        liveAt = { at, revision: engine.revision, objects: objectsOf(live) };
        await new Promise((r) => setTimeout(r, 5));
      }
      await (compactions = compactions.then(compact));
      const st = await client.maintenance.status();
      const keys = Number((await client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), count_only: true })).count);
      const { horizon } = await readHorizon(client, store.keys);
      // The RSS the floor judges is sampled after a full GC when node runs with --expose-gc (`npm run bench` does):
      // otherwise the sample also carries garbage not yet collected (tens of MB at 2,000 cycles/s), not growth.
      const rssBeforeGc = process.memoryUsage().rss;
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const mem = process.memoryUsage();
      const point: FootprintPoint = {
        cycles: done,
        dbSizeMB: round(Number(st.dbSize) / 1e6, 1),
        dbSizeInUseMB: round(Number((st as { dbSizeInUse?: string }).dbSizeInUse ?? st.dbSize) / 1e6, 1),
        keys,
        rssMB: round(mem.rss / 1e6, 1),
        rssBeforeGcMB: round(rssBeforeGc / 1e6, 1),
        afterGc: gc !== undefined,
        heapUsedMB: round(mem.heapUsed / 1e6, 1),
        externalMB: round(mem.external / 1e6, 1),
        horizon: horizon?.revision ?? 0,
        revision: Number(st.header.revision),
        cyclesPerSec: round(rate),
      };
      footprint.push(point);
      // The first 10% is the baseline: churn alone. Maintenance starts after it.
      if (footprint.length === 1) loop.start();
      o.progress?.(`${done}/${o.cycles} cycles: db ${point.dbSizeMB} MB (in use ${point.dbSizeInUseMB}), ${keys} keys under the prefix, RSS ${point.rssMB} MB${point.afterGc ? ` after a full GC (${point.rssBeforeGcMB} before)` : ''} (heap ${point.heapUsedMB}, external ${point.externalMB}), horizon ${point.horizon} of ${point.revision}, ${point.cyclesPerSec} cycles/s${movedInDecile ? ' (archiving)' : ''}`);
    }
    await loop.stop();
    await engine.sync();

    // Invariants over the whole log, archive + etcd.
    const log: LoggedEvent[] = [];
    for await (const p of readLogWithArchive(store, archive, { types: ['IPAllocated', 'IPReleased', 'PoolDefined', 'PoolChanged'] })) log.push(...p.events);
    const check = checkAllocationLog(log);
    const full = (o.checks ?? 'full') === 'full';
    let replayAtMatches = false;
    if (replayAt && full) {
      const m = new AllocatorModel();
      for await (const p of readLogWithArchive(store, archive, { until: replayAt.revision })) for (const e of p.events) m.apply(e.event, e.revision);
      replayAtMatches = picture(m) === replayAt.picture;
    }
    const { horizon: hEnd } = await readHorizon(client, store.keys);
    let replayAtTime: SoakReport['invariants']['replayAtTime'] = { at: '', revision: 0, horizonAtEnd: hEnd?.revision ?? 0, beforeHorizon: false, objects: 0, matches: false, differing: [] };
    if (liveAt && full) {
      // What `ipam replay --at T --archive-dir DIR` runs (src/cli/commands/direct-read.ts), on this process's store.
      const asOf = new Date(liveAt.at);
      const { from, pages } = await replayStart(store, archive, { asOf }, ALL_PROJECTIONS);
      const replayed = objectsOf(readModelOf(await replay(store, ALL_PROJECTIONS, { ...(from ? { from } : {}), pages, asOf })));
      const differing = ALL_PROJECTIONS.filter((p) => JSON.stringify(replayed.get(p.name)) !== JSON.stringify(liveAt!.objects.get(p.name))).map((p) => p.name);
      const objects = [...liveAt.objects.values()].reduce((n, xs) => n + xs.length, 0);
      const beforeHorizon = hEnd !== undefined && Date.parse(hEnd.lastEventAt) > asOf.getTime();
      replayAtTime = { at: liveAt.at, revision: liveAt.revision, horizonAtEnd: hEnd?.revision ?? 0, beforeHorizon, objects, matches: differing.length === 0 && objects > 0, differing };
    }
    const lifecycleProblems = full ? (await verifyLifecycle(store, archive, ALL_PROJECTIONS, 10)).problems : [];
    const half = footprint.find((f) => f.cycles >= o.cycles / 2) ?? footprint[0]!;
    const last = footprint[footprint.length - 1]!;
    const first = footprint[0]!.cyclesPerSec;
    const during = footprint.filter((_, i) => i > 0 && archiving[i]).map((f) => f.cyclesPerSec).sort((a, b) => a - b);
    const whileArchiving = during.length ? during[Math.floor(during.length / 2)]! : 0;
    const growth = { dbSizeMB: round(last.dbSizeMB - half.dbSizeMB, 1), rssMB: round(last.rssMB - half.rssMB, 1), from: half.cycles, to: last.cycles };
    const ratio = first > 0 ? round(whileArchiving / first, 3) : 0;
    moveMs.sort((a, b) => a - b);
    const maintenance = { ...maint, medianMoveMs: Math.round(moveMs[Math.floor(moveMs.length / 2)] ?? 0), maxMoveMs: Math.round(moveMs[moveMs.length - 1] ?? 0) };
    return {
      scenario: 'soak',
      cycles: o.cycles,
      live: o.live,
      concurrency: o.concurrency,
      policy: o.policy,
      footprint,
      growth,
      throughput: { first10pct: first, whileArchiving, ratio, archivingDeciles: during.length },
      maintenance,
      invariants: { duplicates: check.duplicates, badReleases: check.badReleases, events: log.length, replayAtMatches, replayAtRevision: replayAt?.revision ?? 0, replayAtTime, lifecycleProblems, details: check.details.slice(0, 10) },
      floors: { dbGrowthUnder10MB: growth.dbSizeMB < 10, rssGrowthUnder10MB: growth.rssMB < 10, archivingAtLeast80pct: ratio >= 0.8 },
    };
  } finally {
    await loop.stop();
    await lease.release();
    await live.stop();
    await engine.stop();
    await store.close();
    await mStore.close();
    await client.delete().prefix(prefix).catch(() => undefined);
    mClient.close();
    client.close();
    await rm(dir, { recursive: true, force: true });
  }
}

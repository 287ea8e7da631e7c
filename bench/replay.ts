// `bench replay`: events/s of replaying a realistic synthetic log into every projection in one process, and the
// peak memory of holding the resulting live endpoints. (Cold start from etcd with a checkpoint: --cold.)
import { ALL_PROJECTIONS } from '../projections/index.js';
import { applyBatch, documentsOf, initialStates, type AnyProjection, type ProjectionStates } from '../projections/runtime.js';
import type { LoggedEvent } from '../events/catalogue.js';
import { EVENTS_PER_COMMIT, podStages, poolWithAllocations, synthLog, writeSynthLog } from './lib/synth.js';
import { progress } from './lib/progress.js';
import type { RecordFormat } from '../events/record-codec.js';
import { median, round } from './lib/stats.js';
import { DEFAULT_PAGE_RECORDS, DEFAULT_READS_IN_FLIGHT } from '../src/store/reader.js';

export interface ReplayBenchOptions {
  readonly events: number;
  readonly live: number;
  readonly batch: number;
  readonly rounds: number;
  /** Also time each projection alone over the same log (one extra pass per projection). */
  readonly perProjection?: boolean;
}

/** In this process: replays the synthetic log into `projections`, generated commit by commit; times only the applying. */
function replayOnce(o: ReplayBenchOptions, projections: readonly AnyProjection[], onBatch?: (done: number) => void): { states: ProjectionStates; events: number; seconds: number } {
  const states = initialStates(projections);
  let pending: LoggedEvent[] = [];
  let events = 0;
  let ms = 0;
  const flush = () => {
    const t0 = performance.now();
    applyBatch(projections, states, pending);
    ms += performance.now() - t0;
    events += pending.length;
    pending = [];
    onBatch?.(events);
  };
  for (const c of synthLog(synthOptions(o))) {
    for (const e of c) pending.push(e);
    if (pending.length >= o.batch) flush();
  }
  flush();
  return { states, events, seconds: ms / 1000 };
}

interface WorkerResult {
  readonly events: number;
  readonly applySeconds: number;
  readonly decodeSeconds: number;
  readonly peakRssMB: number;
  readonly heldMB: number;
  readonly liveEndpoints: number;
  readonly render?: { readonly objects: number; readonly seconds: number; readonly peakRssMB: number };
}

/**
 * The log is written to a JSON Lines file first (one synthetic commit per line, as the store keeps one record per
 * commit); each round is a fresh process that reads it page by page, decodes and applies (only applying is timed
 * for events/s) and reports its own peak RSS: a process holding the projections, not the generator.
 */
export async function runReplayBench(o: ReplayBenchOptions) {
  const { mkdtempSync, rmSync, statSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'bench-replay-'));
  const file = join(dir, 'log.jsonl');
  try {
    const gen = progress('write synthetic log', o.events);
    const total = await writeSynthLog(file, synthOptions(o), (n) => gen.update(n));
    gen.stop();
    const worker = fileURLToPath(new URL('./replay-worker.js', import.meta.url));
    const runs: WorkerResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const last = r === o.rounds - 1;
      const args = ['--max-semi-space-size=32', '--expose-gc', worker, file, String(o.batch), ...(last ? ['render'] : [])];
      const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 20 });
      runs.push(JSON.parse(stdout) as WorkerResult);
    }
    const last = runs[runs.length - 1]!;
    const perProjection: Record<string, number> = {};
    if (o.perProjection) {
      for (const p of ALL_PROJECTIONS) {
        const handled = handledCount(o, p);
        if (handled === 0) continue; // the synthetic log defines no subnets
        // events/s over the events this projection handles (the others are filtered out before it sees them)
        perProjection[p.name] = round(handled / replayOnce(o, [p]).seconds);
      }
    }
    return {
      ...(o.perProjection ? { perProjection } : {}),
      scenario: 'replay',
      events: total,
      logFileMB: round(statSync(file).size / (1024 * 1024)),
      batch: o.batch,
      eventsPerSec: round(median(runs.map((x) => x.events / x.applySeconds))),
      rounds: runs.map((x) => round(x.events / x.applySeconds)),
      decodeSeconds: round(median(runs.map((x) => x.decodeSeconds)), 2),
      eventsPerSecWithDecode: round(median(runs.map((x) => x.events / (x.applySeconds + x.decodeSeconds)))),
      liveEndpoints: last.liveEndpoints,
      peakRssMB: round(Math.max(...runs.map((x) => x.peakRssMB))),
      heldMB: round(last.heldMB),
      renderAll: { objects: last.render?.objects ?? 0, seconds: round(last.render?.seconds ?? 0, 2), peakRssMB: round(last.render?.peakRssMB ?? 0) },
      liveCommit: liveCommitCost(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const synthOptions = (o: ReplayBenchOptions) => ({ events: o.events, poolPairs: 10, live: o.live, perCommit: EVENTS_PER_COMMIT });

function handledCount(o: ReplayBenchOptions, p: AnyProjection): number {
  const types = new Set<string>(p.handles);
  let n = 0;
  for (const c of synthLog(synthOptions(o))) for (const e of c) if (types.has(e.event.type)) n++;
  return n;
}

/** Commits timed per pool size. */
const LIVE_COMMITS = 1000;

/**
 * The live path: microseconds to apply one commit (an allocation and a release in one pool) to every projection
 * with changes tracked, and take its changes (objects render when read), with the pool holding 300 or 30,000
 * allocations. O(changed) means the two are about equal.
 */
function liveCommitCost(): Record<string, number> {
  const out: Record<string, number> = {};
  // The first size is measured twice, the first time as a warm-up (JIT), and not reported.
  for (const [size, report] of [[300, false], [300, true], [30_000, true]] as const) {
    const states = initialStates(ALL_PROJECTIONS);
    for (const p of ALL_PROJECTIONS) documentsOf(states, p.name)!.trackChanges();
    const log = [...poolWithAllocations(size, LIVE_COMMITS)];
    applyBatch(ALL_PROJECTIONS, states, log.slice(0, log.length - LIVE_COMMITS * 2));
    for (const p of ALL_PROJECTIONS) documentsOf(states, p.name)!.takeChanges(p.name);
    const tail = log.slice(log.length - LIVE_COMMITS * 2);
    const t0 = performance.now();
    for (let i = 0; i < tail.length; i += 2) {
      applyBatch(ALL_PROJECTIONS, states, tail.slice(i, i + 2));
      for (const p of ALL_PROJECTIONS) documentsOf(states, p.name)!.takeChanges(p.name);
    }
    if (report) out[`pool${size}`] = round(((performance.now() - t0) * 1000) / (tail.length / 2), 1);
  }
  return out;
}

export interface ColdStartOptions {
  readonly endpoints: string[];
  readonly events: number;
  readonly live: number;
  /** Events appended after the checkpoint (the tail a restart replays). */
  readonly tail: number;
}

/**
 * Loads the synthetic log into etcd through the store (one record per synthetic commit, as a group-committed txn
 * writes it); returns the events written and the revision after the last commit at or before event `checkpointAt`.
 * `writers` stores append in parallel, each one commit at a time (so no two commits share a record); a commit is
 * never appended before the one that allocated what it releases (the synthetic churn releases pods long after).
 */
export async function loadSynthLog(endpoints: readonly string[], prefix: string, synth: ReturnType<typeof synthOptions>, checkpointAt = Infinity, writers = 1, recordFormat?: RecordFormat, members: 'per-pod' | 'one' = 'per-pod') {
  const { openEtcd } = await import('../src/store/connect.js');
  const { EventStore } = await import('../src/store/event-store.js');
  const client = openEtcd({ endpoints: [...endpoints], callTimeoutMs: 60_000 });
  const stores = Array.from({ length: writers }, () => new EventStore(client, { prefix, ...(recordFormat ? { recordFormat } : {}) }));
  for (const s of stores) await s.open();
  let total = 0;
  for (const c of synthLog(synth)) total += c.length;
  const bar = progress('load log into etcd', total);
  let written = 0;
  let checkpointRevision = 0;
  const commits = synthLog(synth);
  let queued = 0;
  // allocationId -> revision of the commit that holds it: a release waits for its allocation's commit and for its
  // store to have seen it (a store's implicit guard on the address's tag is the revision it has seen).
  const allocated = new Map<string, Promise<number>>();
  await Promise.all(
    stores.map(async (store) => {
      for (;;) {
        const next = commits.next();
        if (next.done) return;
        const c = next.value;
        const upTo = (queued += c.length);
        const deps: Promise<number>[] = [];
        for (const { event: e } of c) {
          if (e.type === 'IPReleased') {
            deps.push(allocated.get(e.data.allocationId) ?? Promise.resolve(0));
            allocated.delete(e.data.allocationId);
          }
        }
        const appended = (async () => {
          const after = Math.max(0, ...(await Promise.all(deps)));
          if (after > store.seenRevision) await store.currentRevision();
          // A loaded machine's etcd may time a request out: append again, saying the events may be committed already
          // (the store then finds them instead of writing them twice).
          for (let attempt = 1; ; attempt++) {
            try {
              // One member per pod, as the allocator appends (a dual-stack pod's two events in one decision), a
              // commit's members in one appendBatch, so one txn and one record of one chunk per member, as a
              // group-committed daemon writes under load (format 2 keeps a string table per member, not per record).
              let revision = 0;
              for (const stage of members === 'per-pod' ? podStages(c) : [[{ events: c.map((e) => e.event) }]]) {
                for (const r of await store.appendBatch(stage, { trusted: true, mayExist: attempt > 1 })) {
                  if (!r.ok) throw r.error;
                  revision = Math.max(revision, r.result.revision);
                }
              }
              return revision;
            } catch (e) {
              if (attempt >= 5 || (e as { code?: string }).code === 'AppendConditionFailed') throw e;
              await new Promise((r) => setTimeout(r, 500 * attempt));
            }
          }
        })();
        for (const { event: e } of c) if (e.type === 'IPAllocated') allocated.set(e.data.allocationId, appended);
        const revision = await appended;
        written += c.length;
        if (upTo <= checkpointAt) checkpointRevision = Math.max(checkpointRevision, revision);
        bar.update(written);
      }
    }),
  );
  bar.stop();
  return { client, store: stores[0]!, total, checkpointRevision };
}


/**
 * `bench replay --from etcd`: the synthetic log written into etcd through the store, then each round a fresh process
 * replays it from etcd into every projection as `ipam replay` and a restart without a checkpoint do
 * (bench/replay-etcd-worker.ts): read + decode + apply timed together, applying alone apart.
 */
export async function runReplayFromEtcd(o: ReplayBenchOptions & { readonly endpoints: readonly string[]; readonly compareFormat?: RecordFormat; readonly daemon?: boolean; readonly etcdPids?: readonly number[] }) {
  const { randomBytes } = await import('node:crypto');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const id = randomBytes(4).toString('hex');
  // The log as the store writes it now; with compareFormat, the same log again in that (older) record format.
  const logs: { format: RecordFormat | 'current'; prefix: string }[] = [{ format: 'current', prefix: `/bench-replay-${id}/` }];
  if (o.compareFormat) logs.push({ format: o.compareFormat, prefix: `/bench-replay-${id}-f${o.compareFormat}/` });
  const loaded: Awaited<ReturnType<typeof loadSynthLog>>[] = [];
  for (const l of logs) loaded.push(await loadSynthLog(o.endpoints, l.prefix, synthOptions(o), Infinity, 8, l.format === 'current' ? undefined : l.format));
  const total = loaded[0]!.total;
  // The read alone (one request in flight, then the reader's default) after each round; a first pass warms up.
  const ceilings: { one: Awaited<ReturnType<typeof readCeiling>>[]; parallel: Awaited<ReturnType<typeof readCeiling>>[] } = { one: [], parallel: [] };
  const measureCeiling = async () => {
    ceilings.one.push(await readCeiling(loaded[0]!.client, logs[0]!.prefix, 1));
    ceilings.parallel.push(await readCeiling(loaded[0]!.client, logs[0]!.prefix, DEFAULT_READS_IN_FLIGHT));
  };
  const recordBytes = (await readCeiling(loaded[0]!.client, logs[0]!.prefix, 1)).bytes; // a warm-up pass too

  type Run = { events: number; seconds: number; applySeconds: number; waitSeconds: number; cpuSeconds: number; gcSeconds: number; fullGcs: number; peakRssMB: number; heldMB: number; liveEndpoints: number };
  const worker = fileURLToPath(new URL('./replay-etcd-worker.js', import.meta.url));
  const { cpuSecondsOfAll, rateOnCores } = await import('./lib/proc-cpu.js');
  // The local etcd's CPU over a round (/proc; undefined for an etcd given by endpoints): serving the ranges.
  const etcdCpu = () => cpuSecondsOfAll(o.etcdPids);
  const runOnce = async (prefix: string): Promise<Run & { etcdCpuSeconds?: number }> => {
    const etcdBefore = etcdCpu();
    // The daemon's young generation (deploy/local/start.sh, serve-process.ts: 16 MB), as a restart replays with it.
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=16', '--expose-gc', worker, o.endpoints.join(','), prefix], { maxBuffer: 1 << 20 });
    const etcdAfter = etcdCpu();
    const r = JSON.parse(stdout) as Run;
    if (r.events !== total) throw new Error(`a replay read ${r.events} events, ${total} were written`);
    return { ...r, ...(etcdBefore !== undefined && etcdAfter !== undefined ? { etcdCpuSeconds: etcdAfter - etcdBefore } : {}) };
  };
  try {
    const runs: (Run & { etcdCpuSeconds?: number })[] = [];
    const base: Run[] = [];
    // Paired rounds, alternating which goes first (this machine's speed drifts).
    for (let r = 0; r < o.rounds; r++) {
      if (o.compareFormat && r % 2 === 1) base.push(await runOnce(logs[1]!.prefix));
      runs.push(await runOnce(logs[0]!.prefix));
      if (o.compareFormat && r % 2 === 0) base.push(await runOnce(logs[1]!.prefix));
      await measureCeiling();
    }
    const last = runs[runs.length - 1]!;
    const rate = (x: Run) => x.events / x.seconds;
    const cores = (await import('node:os')).availableParallelism();
    const daemon = o.daemon ? await daemonHolding(o.endpoints, logs[0]!.prefix) : undefined;
    return {
      scenario: 'replay',
      from: 'etcd',
      events: total,
      eventsPerSec: round(median(runs.map((x) => x.events / x.applySeconds))),
      eventsPerSecWithDecode: round(median(runs.map(rate))),
      rounds: runs.map((x) => round(rate(x))),
      seconds: round(median(runs.map((x) => x.seconds)), 2),
      waitSeconds: round(median(runs.map((x) => x.waitSeconds)), 2),
      // Events per CPU-second of the replaying process (all its threads): what a shared machine's load distorts least.
      eventsPerCpuSecond: round(median(runs.map((x) => x.events / x.cpuSeconds))),
      /**
       * The most this CPU per event allows on the machine's cores: the replaying process's CPU-seconds plus the local
       * etcd's over the round (serving the ranges), spread perfectly over every core (undefined: etcd's CPU unknown).
       */
      coresBound: runs.every((x) => x.etcdCpuSeconds !== undefined)
        ? {
            cores,
            cpuSeconds: round(median(runs.map((x) => x.cpuSeconds)), 2),
            etcdCpuSeconds: round(median(runs.map((x) => x.etcdCpuSeconds!)), 2),
            eventsPerSec: round(median(runs.map((x) => rateOnCores(x.events, x.cpuSeconds + x.etcdCpuSeconds!, cores)))),
          }
        : undefined,
      liveEndpoints: last.liveEndpoints,
      peakRssMB: round(Math.max(...runs.map((x) => x.peakRssMB))),
      // Each round's peak (they swing by tens of MB on a shared machine) and their median, beside the maximum.
      peakRssRoundsMB: runs.map((x) => round(x.peakRssMB)),
      peakRssMedianMB: round(median(runs.map((x) => x.peakRssMB))),
      heldMB: round(last.heldMB),
      gcSeconds: round(median(runs.map((x) => x.gcSeconds)), 2),
      fullGcs: median(runs.map((x) => x.fullGcs)),
      // What the records weigh in etcd (the loader's shape: one format-2 chunk per pod, a commit's pods per record).
      recordMB: round(recordBytes / (1024 * 1024)),
      bytesPerEvent: round(recordBytes / total),
      readCeiling: {
        records: ceilings.one[0]!.records,
        pageRecords: DEFAULT_PAGE_RECORDS,
        oneInFlight: { recordsPerSec: round(median(ceilings.one.map((c) => c.recordsPerSec))), mbPerSec: round(median(ceilings.one.map((c) => c.mbPerSec)), 1) },
        readsInFlight: DEFAULT_READS_IN_FLIGHT,
        parallel: { recordsPerSec: round(median(ceilings.parallel.map((c) => c.recordsPerSec))), mbPerSec: round(median(ceilings.parallel.map((c) => c.mbPerSec)), 1), eventsPerSec: round(median(ceilings.parallel.map((c) => total / c.seconds))) },
      },
      // The replay's events/s against the read alone after the same round (paired), median.
      ratioToReadCeiling: round(median(runs.map((x, i) => rate(x) / (total / ceilings.parallel[i]!.seconds))), 3),
      ...(daemon ? { daemon } : {}),
      ...(o.compareFormat
        ? {
            baseline: {
              recordFormat: o.compareFormat,
              eventsPerSecWithDecode: round(median(base.map(rate))),
              eventsPerCpuSecond: round(median(base.map((x) => x.events / x.cpuSeconds))),
              rounds: base.map((x) => round(rate(x))),
              peakRssMB: round(Math.max(...base.map((x) => x.peakRssMB))),
            },
            ratioToBaseline: round(median(runs.map((x, i) => rate(x) / rate(base[i]!))), 3),
          }
        : {}),
    };
  } finally {
    for (const l of logs) await loaded[0]!.client.delete().prefix(l.prefix);
    for (const l of loaded) l.client.close();
  }
}

/**
 * The read alone: the log's records read through the store's reader (src/store/reader.ts) with nothing decoded, from
 * this process, with `readsInFlight` range requests out at once: etcd's range throughput for these records and the
 * reader's share of a replay. Also what the records weigh.
 */
async function readCeiling(client: import('etcd3').Etcd3, prefix: string, readsInFlight: number) {
  const { readRecords } = await import('../src/store/reader.js');
  const { KeyLayout } = await import('../src/store/keys.js');
  let bytes = 0;
  let records = 0;
  const t0 = performance.now();
  for await (const page of readRecords(client, new KeyLayout(prefix), { readsInFlight })) {
    for (const r of page.records) bytes += r.kv.value.length;
    records += page.records.length;
  }
  const s = (performance.now() - t0) / 1000;
  return { readsInFlight, records, bytes, seconds: s, recordsPerSec: records / s, mbPerSec: bytes / (1024 * 1024) / s };
}

/** Seconds a started daemon is left to settle before its RSS is read (coalesced projections, first checkpoint timer). */
const DAEMON_SETTLE_MS = 3000;

/**
 * The real daemon (`ipam serve`, src/local/serve-process.ts: its own process and Node flags) started on the log, so
 * it replays it (no checkpoint) into its allocator model and every live projection: its RSS once ready and settled
 * (`rssMB`, VmRSS) and the peak of its start (`peakRssMB`, VmHWM), with the live endpoints its API lists.
 */
async function daemonHolding(endpoints: readonly string[], prefix: string) {
  const { readFileSync } = await import('node:fs');
  const { startServe } = await import('../src/local/serve-process.js');
  const t0 = performance.now();
  const d = await startServe({ endpoints, prefix, node: 'bench-node', timeoutMs: 600_000 });
  try {
    const readySeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, DAEMON_SETTLE_MS));
    const status = readFileSync(`/proc/${d.pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    // What it holds, from its own /metrics on the unix socket (after RSS was read: nothing rendered before)
    const { get } = await import('node:http');
    const metrics = await new Promise<string>((ok, fail) =>
      get({ socketPath: d.socket, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => ok(body)).on('error', fail);
      }).on('error', fail),
    );
    let allocated = 0;
    for (const m of metrics.matchAll(/^ipam_pool_allocated_addresses\{[^}]*\} (\d+)/gm)) allocated += Number(m[1]);
    return { readySeconds: round(readySeconds, 2), rssMB: round(kb('VmRSS') / 1024), peakRssMB: round(kb('VmHWM') / 1024), allocatedAddresses: allocated };
  } finally {
    await d.stop();
  }
}

/** Loads a synthetic log into etcd, checkpoints all projections short of its end, times a fresh process's start. */
export async function runColdStart(o: ColdStartOptions) {
  const { randomBytes } = await import('node:crypto');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const { replay } = await import('../projections/runtime.js');
  const { saveAll } = await import('../projections/checkpoint.js');
  const prefix = `/bench-cold-${randomBytes(4).toString('hex')}/`;
  const synth = { events: o.events, poolPairs: 10, live: o.live, perCommit: EVENTS_PER_COMMIT };
  let total = 0;
  for (const c of synthLog(synth)) total += c.length;
  // One append per synthetic commit, in order (each sees the previous one, so their implicit guards hold).
  const { client, store, checkpointRevision } = await loadSynthLog(o.endpoints, prefix, synth, total - o.tail);
  const states = await replay(store, ALL_PROJECTIONS, { until: checkpointRevision });
  await saveAll(store, ALL_PROJECTIONS, states);
  const worker = fileURLToPath(new URL('./cold-start.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=32', worker, o.endpoints.join(','), prefix], { maxBuffer: 16 << 20 });
  const r = JSON.parse(stdout) as { coldStartSeconds: number; checkpointLoadSeconds: number; fromCheckpoint: boolean; peakRssMB: number };
  await client.delete().prefix(prefix);
  client.close();
  return { events: total, tail: o.tail, live: o.live, coldStartSeconds: round(r.coldStartSeconds, 2), checkpointLoadSeconds: round(r.checkpointLoadSeconds, 2), fromCheckpoint: r.fromCheckpoint, coldStartPeakRssMB: round(r.peakRssMB) };
}

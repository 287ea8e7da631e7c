// Checkpoints: a projection's state at a revision, so a restart replays only the tail of the log.
// Large states are split into chunks (etcd's default request limit is 1.5 MiB) written before the manifest that
// names them, so a reader never sees a half-written checkpoint.
import { createHash, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { modelCheckpoint, restoreModel, type ModelCheckpoint } from '../src/alloc/model-checkpoint.js';
import type { EventStore } from '../src/store/event-store.js';
import { readHorizon } from '../src/store/horizon.js';
import type { AnyProjection, ProjectionStates, StatesAt } from './runtime.js';

const CHUNK = 1024 * 1024;

interface Manifest {
  readonly name: string;
  readonly version: number;
  readonly revision: number;
  readonly generation: string;
  readonly chunks: number;
}

export async function saveCheckpoint(store: EventStore, p: AnyProjection, state: unknown, revision: number): Promise<void> {
  await saveSerialized(store, p, JSON.stringify(state), revision); // a document state's toJSON() gives its checkpoint form
}

/** Serialises every projection's state in one synchronous step, so all are taken at the same revision of live states. */
export function serializeAll(projections: readonly AnyProjection[], s: ProjectionStates): { revision: number; bodies: Map<string, string> } {
  return { revision: s.revision, bodies: new Map(projections.map((p) => [p.name, JSON.stringify(s.states.get(p.name))])) };
}

/** Writes one projection's already serialised state (chunks first, then the manifest naming them). */
export async function saveSerialized(store: EventStore, p: AnyProjection, json: string, revision: number): Promise<void> {
  const body = Buffer.from(json);
  const generation = randomBytes(4).toString('hex');
  const base = store.keys.checkpoint(p.name);
  const chunks = await writeChunks(store, `${base}/${generation}/`, body);
  const previous = await readManifest(store, p);
  const manifest: Manifest = { name: p.name, version: p.version, revision, generation, chunks };
  await store.client.put(base).value(JSON.stringify(manifest));
  if (previous && previous.generation !== generation) await store.client.delete().prefix(`${base}/${previous.generation}/`);
}

/** Writes `body` in chunks `${base}0`, `${base}1`, ...; returns how many. */
async function writeChunks(store: EventStore, base: string, body: Buffer): Promise<number> {
  const chunks = Math.max(1, Math.ceil(body.length / CHUNK));
  for (let i = 0; i < chunks; i++) await store.client.put(`${base}${i}`).value(body.subarray(i * CHUNK, (i + 1) * CHUNK));
  return chunks;
}

async function readChunks(store: EventStore, base: string, chunks: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  for (let i = 0; i < chunks; i++) {
    const b = await store.client.get(`${base}${i}`).buffer();
    if (!b) return undefined;
    parts.push(b);
  }
  return Buffer.concat(parts);
}

async function readManifest(store: EventStore, p: AnyProjection): Promise<Manifest | undefined> {
  const raw = await store.client.get(store.keys.checkpoint(p.name)).string();
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Manifest;
  } catch {
    return undefined;
  }
}

/** The saved state, or undefined when there is none or it was written by another version of the projection. */
export async function loadCheckpoint(store: EventStore, p: AnyProjection): Promise<{ state: unknown; revision: number } | undefined> {
  const m = await readManifest(store, p);
  if (!m || m.version !== p.version) return undefined;
  const state = await readBody(store, p, m);
  return state === undefined ? undefined : { state, revision: m.revision };
}

async function readBody(store: EventStore, p: AnyProjection, m: Manifest): Promise<unknown> {
  const base = store.keys.checkpoint(p.name);
  const parts: Buffer[] = [];
  for (let i = 0; i < m.chunks; i++) {
    const b = await store.client.get(`${base}/${m.generation}/${i}`).buffer();
    if (!b) return undefined; // a chunk went missing: rebuild rather than guess
    parts.push(b);
  }
  return JSON.parse(Buffer.concat(parts).toString());
}

/** Saves every projection at one revision. */
export async function saveAll(store: EventStore, projections: readonly AnyProjection[], s: ProjectionStates): Promise<void> {
  for (const p of projections) await saveCheckpoint(store, p, s.states.get(p.name), s.revision);
}

/**
 * Loads every projection's checkpoint (in checkpoint form: give it to `replay` or `LiveProjections` as `from`), all at
 * one revision, or undefined (then replay from the start). Members of a state group share one index, saved by each
 * at the same revision: only the first member's body is read, and the others are given the same form.
 */
export async function loadAll(store: EventStore, projections: readonly AnyProjection[]): Promise<StatesAt | undefined> {
  const manifests = await Promise.all(projections.map((p) => readManifest(store, p)));
  if (manifests.some((m, i) => m === undefined || m.version !== projections[i]!.version)) return undefined;
  const revs = new Set(manifests.map((m) => m!.revision));
  // saveAll writes one revision for all; mixed revisions mean an interrupted save: rebuild.
  if (revs.size !== 1) return undefined;
  const source = projections.map((p, i) => (p.group === undefined ? i : projections.findIndex((q) => q.group === p.group)));
  const bodies = new Map<number, unknown>();
  await Promise.all(
    [...new Set(source)].map(async (i) => {
      bodies.set(i, await readBody(store, projections[i]!, manifests[i]!));
    }),
  );
  if ([...bodies.values()].some((b) => b === undefined)) return undefined;
  return { revision: manifests[0]!.revision, states: new Map(projections.map((p, i) => [p.name, bodies.get(source[i]!)])) };
}

// The horizon checkpoint: the allocator model and every projection at the horizon H, in one body, written under its
// own generation (never overwritten: the horizon key names the generation it stands on), verified before the
// horizon may move to it. Keys: <prefix>checkpoint/@horizon/<generation> (manifest) and .../<generation>/<chunk>.

export interface HorizonCheckpoint {
  readonly revision: number;
  readonly model: ModelCheckpoint;
  /** Projection name -> version and checkpoint form, as a replay or LiveProjections takes it (`from`). */
  readonly projections: Readonly<Record<string, { readonly version: number; readonly state: unknown }>>;
}

interface HorizonManifest {
  readonly revision: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly sha256: string;
}

export class CheckpointInvalid extends Error {
  readonly code = 'CheckpointInvalid';
}

const HORIZON_CHECKPOINT = '@horizon';

/** The whole state at `s.revision` (the model must be at the same revision) as a horizon checkpoint. */
export function horizonCheckpointOf(model: Parameters<typeof modelCheckpoint>[0], projections: readonly AnyProjection[], s: StatesAt): HorizonCheckpoint {
  if (model.revision > s.revision) throw new Error(`model at ${model.revision} is past the projections at ${s.revision}`);
  const cp = { ...modelCheckpoint(model), revision: s.revision };
  return { revision: s.revision, model: cp, projections: Object.fromEntries(projections.map((p) => [p.name, { version: p.version, state: JSON.parse(JSON.stringify(s.states.get(p.name))) as unknown }])) };
}

/**
 * Saves and verifies a horizon checkpoint: the chunks read back hash to what was written, and restoring the model
 * and every projection from it gives back the same checkpoint form. Returns its generation.
 */
export async function saveHorizonCheckpoint(store: EventStore, projections: readonly AnyProjection[], cp: HorizonCheckpoint): Promise<string> {
  verifyRestorable(projections, cp);
  const body = Buffer.from(JSON.stringify(cp));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const generation = `${cp.revision.toString(16).padStart(12, '0')}-${randomBytes(4).toString('hex')}`;
  const base = `${store.keys.checkpoint(HORIZON_CHECKPOINT)}/${generation}`;
  const chunks = await writeChunks(store, `${base}/`, body);
  const manifest: HorizonManifest = { revision: cp.revision, chunks, bytes: body.length, sha256 };
  await store.client.put(base).value(JSON.stringify(manifest));
  // Read back what etcd now holds: the same bytes as written (so it parses to `cp`), named by the manifest.
  const raw = await store.client.get(base).string();
  const back = !raw ? undefined : await readChunks(store, `${base}/`, (JSON.parse(raw) as HorizonManifest).chunks);
  if (!back || !back.equals(body)) throw new CheckpointInvalid(`horizon checkpoint ${generation} read back differs from what was written`);
  return generation;
}

/**
 * Restores model and projections from the checkpoint and compares their checkpoint forms with it: as JSON text
 * first (one serialisation each, no deep walk), structurally only when the text differs (e.g. in key order).
 */
function verifyRestorable(projections: readonly AnyProjection[], cp: HorizonCheckpoint): void {
  const model = modelCheckpoint(restoreModel(cp.model));
  if (JSON.stringify(model) !== JSON.stringify(cp.model) && !isDeepStrictEqual(model, cp.model)) throw new CheckpointInvalid(`allocator model at ${cp.revision} does not restore to itself`);
  for (const p of projections) {
    const f = cp.projections[p.name];
    if (!f || f.version !== p.version) throw new CheckpointInvalid(`projection ${p.name} missing from the horizon checkpoint (or another version)`);
    const again = JSON.stringify(p.restore ? p.restore(f.state) : f.state);
    if (again !== JSON.stringify(f.state) && !isDeepStrictEqual(JSON.parse(again) as unknown, f.state)) throw new CheckpointInvalid(`projection ${p.name} at ${cp.revision} does not restore to itself`);
  }
}

/** Reads a horizon checkpoint by generation, checking its sha256; throws CheckpointInvalid when absent or corrupt. */
export async function loadHorizonCheckpoint(store: EventStore, generation: string): Promise<HorizonCheckpoint> {
  const base = `${store.keys.checkpoint(HORIZON_CHECKPOINT)}/${generation}`;
  const raw = await store.client.get(base).string();
  if (!raw) throw new CheckpointInvalid(`horizon checkpoint ${generation} is missing (key ${base})`);
  const m = JSON.parse(raw) as HorizonManifest;
  const body = await readChunks(store, `${base}/`, m.chunks);
  if (!body) throw new CheckpointInvalid(`horizon checkpoint ${generation}: a chunk is missing`);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== m.sha256) throw new CheckpointInvalid(`horizon checkpoint ${generation}: sha256 ${sha}, manifest says ${m.sha256}`);
  return JSON.parse(body.toString()) as HorizonCheckpoint;
}

/** The checkpoint the horizon key names now (where a subscription that fell behind the horizon restarts). */
export async function currentHorizonCheckpoint(store: EventStore): Promise<HorizonCheckpoint> {
  const { horizon } = await readHorizon(store.client, store.keys);
  if (!horizon) throw new CheckpointInvalid('behind the horizon, but there is no horizon key: the log was never cut');
  return loadHorizonCheckpoint(store, horizon.checkpoint);
}

/** Deletes every horizon checkpoint generation but `keep` (earlier ones, and any an interrupted run left). */
export async function pruneHorizonCheckpoints(store: EventStore, keep: string): Promise<number> {
  const base = `${store.keys.checkpoint(HORIZON_CHECKPOINT)}/`;
  const keys = await store.client.getAll().prefix(base).keys();
  const generations = new Set(keys.map((k) => k.slice(base.length).split('/')[0]!).filter((g) => g !== keep));
  for (const g of generations) await store.client.delete().prefix(`${base}${g}`);
  return generations.size;
}

/** A horizon checkpoint's projections as `StatesAt` (for replay or LiveProjections `from`). */
export function statesOfHorizon(cp: HorizonCheckpoint): StatesAt {
  return { revision: cp.revision, states: new Map(Object.entries(cp.projections).map(([name, f]) => [name, f.state])) };
}

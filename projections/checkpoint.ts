// Checkpoints: a projection's state at a revision, so a restart replays only the tail of the log.
// Large states are split into chunks (etcd's default request limit is 1.5 MiB) written before the manifest that
// names them, so a reader never sees a half-written checkpoint.
import { randomBytes } from 'node:crypto';
import type { EventStore } from '../src/store/event-store.js';
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
  const chunks = Math.max(1, Math.ceil(body.length / CHUNK));
  for (let i = 0; i < chunks; i++) {
    await store.client.put(`${base}/${generation}/${i}`).value(body.subarray(i * CHUNK, (i + 1) * CHUNK));
  }
  const previous = await readManifest(store, p);
  const manifest: Manifest = { name: p.name, version: p.version, revision, generation, chunks };
  await store.client.put(base).value(JSON.stringify(manifest));
  if (previous && previous.generation !== generation) await store.client.delete().prefix(`${base}/${previous.generation}/`);
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

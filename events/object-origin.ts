// ObjectMeta the API server sets, derived from the log: uid from the id of the event that defined the object (stable
// across replays and daemons, new after a delete and re-create), creationTimestamp from that event's time, and
// generation counting spec changes (1 at creation, +1 per change of spec; labels/annotations do not count).
import { createHash } from 'node:crypto';

export interface ObjectOrigin {
  readonly uid: string;
  readonly creationTimestamp: string;
  readonly generation: number;
}

/** An RFC 4122 name-based (SHA-1, version 5) UUID of the defining event's id. */
export function uidOfEvent(eventId: string): string {
  const h = createHash('sha1').update('ipam-es/object/').update(eventId).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Kubernetes timestamps are RFC 3339 at second precision. */
function seconds(at: string): string {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? at : new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The origin after a define/change event: new for an object not defined before, else generation bumped if the spec changed. */
export function nextOrigin(prev: ObjectOrigin | undefined, event: { readonly id: string; readonly at: string }, specChanged: boolean): ObjectOrigin {
  if (prev === undefined) return { uid: uidOfEvent(event.id), creationTimestamp: seconds(event.at), generation: 1 };
  return specChanged ? { ...prev, generation: prev.generation + 1 } : prev;
}

/** The metadata fields of an origin (none for objects from checkpoints written before origins were kept). */
export function originMeta(o: ObjectOrigin | undefined): { uid?: string; creationTimestamp?: string; generation?: number } {
  return o === undefined ? {} : { uid: o.uid, creationTimestamp: o.creationTimestamp, generation: o.generation };
}

/** JSON with sorted keys: whether two specs are the same regardless of key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(norm) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, norm((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

// The boundary between bytes in etcd and typed events: validate, upcast old versions, report bad ones with their key.
import { EVENT_VERSIONS, isEventType, type DomainEvent, type EventType } from './catalogue.js';
import { DATA_SCHEMAS } from './schemas.js';

export class MalformedEventError extends Error {
  readonly code = 'MalformedEvent';
  constructor(
    /** Where it was read from: the etcd key and position, e.g. `/ipam/log/…#3`. */
    readonly key: string,
    readonly reason: string,
  ) {
    super(`malformed event at ${key}: ${reason}`);
  }
}

export function isMalformedEventError(e: unknown): e is MalformedEventError {
  return e instanceof MalformedEventError;
}

/** Turns data of version `from` into version `from + 1`. */
export type Upcaster = (data: unknown) => unknown;
export type Upcasters = { readonly [T in EventType]?: Readonly<Record<number, Upcaster>> };

export interface EventCodec {
  decode(raw: unknown, key: string): DomainEvent;
}

/** Upcasters of the shipped catalogue; add one per version bump (key = the old version). */
export const UPCASTERS: Upcasters = {
  // v1 -> v2 added optional fields only: a v1 record is an allocation the engine made, which v2 writes the same way.
  IPAllocated: { 1: (d) => d },
};

export function createCodec(upcasters: Upcasters = UPCASTERS): EventCodec {
  return {
    decode(raw, key) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MalformedEventError(key, 'event must be an object');
      const e = raw as Record<string, unknown>;
      if (typeof e.id !== 'string' || e.id === '') throw new MalformedEventError(key, 'id must be a non-empty string');
      if (typeof e.type !== 'string') throw new MalformedEventError(key, 'type must be a string');
      if (!isEventType(e.type)) throw new MalformedEventError(key, `unknown event type "${e.type}" (id ${e.id})`);
      if (!Number.isInteger(e.v) || (e.v as number) < 0) throw new MalformedEventError(key, `v must be a non-negative integer (id ${e.id})`);
      if (typeof e.at !== 'string') throw new MalformedEventError(key, `at must be a string (id ${e.id})`);
      if (!Array.isArray(e.tags) || !e.tags.every((t) => typeof t === 'string')) {
        throw new MalformedEventError(key, `tags must be an array of strings (id ${e.id})`);
      }
      const type = e.type;
      const current = EVENT_VERSIONS[type];
      let v = e.v as number;
      let data = e.data;
      if (v > current) throw new MalformedEventError(key, `${type} v${v} is newer than this build understands (v${current}); upgrade`);
      while (v < current) {
        const up = upcasters[type]?.[v];
        if (!up) throw new MalformedEventError(key, `no upcaster for ${type} v${v} -> v${v + 1} (id ${e.id})`);
        data = up(data);
        v++;
      }
      const problem = DATA_SCHEMAS[type](data, 'data');
      if (problem) throw new MalformedEventError(key, `${type} ${problem} (id ${e.id})`);
      return (v === e.v && data === e.data ? e : { ...e, v, data }) as unknown as DomainEvent;
    },
  };
}

export const defaultCodec: EventCodec = createCodec();

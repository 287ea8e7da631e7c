// The RFC 7386 merge patch that turns `current` into `desired`, for the status fields we own (the top-level keys of
// `desired`; others in `current` are left alone). Maps are diffed key by key (a removed key becomes null), arrays
// and scalars are replaced whole. Undefined when nothing differs.
import { sameJson } from './canonical.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function statusPatch(current: unknown, desired: Json): Json | undefined {
  const cur = isObject(current) ? current : {};
  const out: Json = {};
  for (const [k, v] of Object.entries(desired)) {
    const d = diff(cur[k], v);
    if (d !== undefined) out[k] = d;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function diff(current: unknown, desired: unknown): unknown {
  if (sameJson(current, desired)) return undefined;
  if (!isObject(current) || !isObject(desired)) return desired === undefined ? null : desired;
  const out: Json = {};
  for (const k of Object.keys(current)) if (!(k in desired) || desired[k] === undefined) out[k] = null;
  for (const [k, v] of Object.entries(desired)) {
    if (v === undefined) continue;
    const d = diff(current[k], v);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

// JSON merge patch (RFC 7386, what kubectl apply sends for custom resources) and JSON patch (RFC 6902, the
// default of @kubernetes/client-node's patch calls). Pure: the target is never mutated.
import { StatusError, badRequest } from './status.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface Operation {
  readonly op: string;
  readonly path: string;
  readonly from?: string;
  readonly value?: unknown;
}

function pointer(p: unknown, field: string): string[] {
  if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw badRequest(`json patch: ${field} must be a JSON pointer such as "/spec/ips", got ${JSON.stringify(p)}`);
  return p === '' ? [] : p.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parent(doc: unknown, tokens: string[], path: string): { container: Record<string, unknown> | unknown[]; key: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (cur === undefined) throw new StatusError(422, 'Invalid', `json patch: path ${path} does not exist`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new StatusError(422, 'Invalid', `json patch: path ${path} does not exist`);
  return { container: cur, key: tokens[tokens.length - 1]! };
}

function get(doc: unknown, tokens: string[], path: string): unknown {
  if (tokens.length === 0) return doc;
  const { container, key } = parent(doc, tokens, path);
  const v = Array.isArray(container) ? container[Number(key)] : container[key];
  if (v === undefined) throw new StatusError(422, 'Invalid', `json patch: path ${path} does not exist`);
  return v;
}

/** The value at `tokens` if there is one (an add onto an existing member replaces it). */
function present(doc: unknown, tokens: string[]): unknown {
  try {
    return get(doc, tokens, '');
  } catch {
    return undefined;
  }
}

function arrayIndex(a: unknown[], key: string, path: string, allowEnd: boolean): number {
  if (allowEnd && key === '-') return a.length;
  const i = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : NaN;
  if (!(i >= 0 && i <= a.length - (allowEnd ? 0 : 1))) throw new StatusError(422, 'Invalid', `json patch: index ${key} is out of range at ${path}`);
  return i;
}

function remove(doc: unknown, tokens: string[], path: string): unknown {
  if (tokens.length === 0) throw badRequest('json patch: cannot remove the whole object');
  const { container, key } = parent(doc, tokens, path);
  get(doc, tokens, path);
  if (Array.isArray(container)) return container.splice(arrayIndex(container, key, path, false), 1)[0];
  const v = container[key];
  delete container[key];
  return v;
}

function add(doc: unknown, tokens: string[], path: string, value: unknown): unknown {
  if (tokens.length === 0) return structuredClone(value);
  const { container, key } = parent(doc, tokens, path);
  if (Array.isArray(container)) container.splice(arrayIndex(container, key, path, true), 0, structuredClone(value));
  else container[key] = structuredClone(value);
  return doc;
}

const MAX_OPERATIONS = 10_000;

/** How far one JSON patch may grow its document, and how much it may copy on the way (its time bound). */
export interface PatchLimits {
  /** Largest patched object, in bytes of JSON text: one that could not be sent whole cannot be patched into being. */
  readonly maxResultBytes: number;
  /** Bytes added, removed, copied or compared over all operations: bounds the time a patch takes. */
  readonly maxWorkBytes: number;
}

export const DEFAULT_PATCH_LIMITS: PatchLimits = { maxResultBytes: 1 << 20, maxWorkBytes: 16 << 20 };

/** Length of `v` as JSON text (strings counted in UTF-16 units, escapes ignored); stops counting once above `cap`. */
export function jsonSize(v: unknown, cap = Number.MAX_SAFE_INTEGER): number {
  let n = 0;
  const stack: unknown[] = [v];
  while (stack.length > 0 && n <= cap) {
    const x = stack.pop();
    if (typeof x === 'string') n += x.length + 2;
    else if (typeof x === 'number' || typeof x === 'boolean') n += String(x).length;
    else if (x === null || x === undefined) n += 4;
    else if (Array.isArray(x)) {
      n += 2 + x.length;
      for (const e of x) stack.push(e);
    } else if (typeof x === 'object') {
      for (const [k, e] of Object.entries(x)) {
        n += k.length + 4;
        stack.push(e);
      }
      n += 2;
    }
  }
  return n;
}

/** Counts a patch's growth and work as it applies, refusing (413) the operation that goes over a limit. */
class PatchBudget {
  private work = 0;
  constructor(
    private size: number,
    private readonly limits: PatchLimits,
  ) {}

  /** Size of a value about to be added; throws before it is cloned if the document would outgrow its limit. */
  adding(v: unknown, i: number): void {
    const room = this.limits.maxResultBytes - this.size;
    const n = jsonSize(v, Math.min(room, this.limits.maxWorkBytes - this.work));
    this.spend(n, i);
    if (n > room) {
      throw new StatusError(413, 'RequestEntityTooLarge', `json patch: operation ${i} would make the object larger than ${this.limits.maxResultBytes} bytes`);
    }
    this.size += n;
  }

  removed(v: unknown, i: number): void {
    if (v === undefined) return;
    const n = jsonSize(v);
    this.spend(n, i);
    this.size -= n;
  }

  spend(n: number, i: number): void {
    this.work += n;
    if (this.work > this.limits.maxWorkBytes) {
      throw new StatusError(413, 'RequestEntityTooLarge', `json patch: operations up to ${i} add, copy or compare more than ${this.limits.maxWorkBytes} bytes in total; send the object whole (PUT) instead`);
    }
  }
}

export function jsonPatch(target: unknown, ops: unknown, limits: PatchLimits = DEFAULT_PATCH_LIMITS): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch: the body must be an array of operations such as [{"op":"replace","path":"/spec/ips","value":[...]}]');
  if (ops.length > MAX_OPERATIONS) throw new StatusError(413, 'RequestEntityTooLarge', `json patch: ${ops.length} operations; at most ${MAX_OPERATIONS} are allowed`);
  let doc: unknown = structuredClone(target);
  const budget = new PatchBudget(jsonSize(doc), limits);
  ops.forEach((raw, i) => {
    if (!isObject(raw)) throw badRequest(`json patch: operation ${i} must be an object {op, path, ...}`);
    const o = raw as unknown as Operation;
    const path = o.path;
    const tokens = pointer(path, `operation ${i} path`);
    switch (o.op) {
      case 'add':
        if (tokens.length === 0) budget.removed(doc, i);
        else if (!Array.isArray(parent(doc, tokens, path).container)) budget.removed(present(doc, tokens), i); // replaced
        budget.adding(o.value, i);
        doc = add(doc, tokens, path, o.value);
        break;
      case 'remove':
        budget.removed(remove(doc, tokens, path), i);
        break;
      case 'replace':
        budget.removed(get(doc, tokens, path), i);
        budget.adding(o.value, i);
        if (tokens.length === 0) doc = structuredClone(o.value);
        else {
          remove(doc, tokens, path);
          doc = add(doc, tokens, path, o.value);
        }
        break;
      case 'move': {
        const from = pointer(o.from, `operation ${i} from`);
        const v = remove(doc, from, o.from!);
        budget.removed(v, i);
        budget.adding(v, i);
        doc = add(doc, tokens, path, v);
        break;
      }
      case 'copy': {
        const v = get(doc, pointer(o.from, `operation ${i} from`), o.from!);
        budget.adding(v, i); // before the clone: a copy of the document into itself doubles it
        doc = add(doc, tokens, path, v);
        break;
      }
      case 'test':
        budget.spend(jsonSize(o.value), i);
        budget.spend(jsonSize(get(doc, tokens, path)), i);
        if (JSON.stringify(get(doc, tokens, path)) !== JSON.stringify(o.value)) {
          throw new StatusError(422, 'Invalid', `json patch: test failed at ${path}`);
        }
        break;
      default:
        throw badRequest(`json patch: operation ${i} has unknown op ${JSON.stringify(o.op)}; use add, remove, replace, move, copy or test`);
    }
  });
  return doc;
}

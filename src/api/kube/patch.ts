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

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch: the body must be an array of operations such as [{"op":"replace","path":"/spec/ips","value":[...]}]');
  if (ops.length > MAX_OPERATIONS) throw new StatusError(413, 'RequestEntityTooLarge', `json patch: ${ops.length} operations; at most ${MAX_OPERATIONS} are allowed`);
  let doc: unknown = structuredClone(target);
  ops.forEach((raw, i) => {
    if (!isObject(raw)) throw badRequest(`json patch: operation ${i} must be an object {op, path, ...}`);
    const o = raw as unknown as Operation;
    const path = o.path;
    const tokens = pointer(path, `operation ${i} path`);
    switch (o.op) {
      case 'add':
        doc = add(doc, tokens, path, o.value);
        break;
      case 'remove':
        remove(doc, tokens, path);
        break;
      case 'replace':
        get(doc, tokens, path);
        if (tokens.length === 0) doc = structuredClone(o.value);
        else {
          remove(doc, tokens, path);
          doc = add(doc, tokens, path, o.value);
        }
        break;
      case 'move': {
        const from = pointer(o.from, `operation ${i} from`);
        const v = remove(doc, from, o.from!);
        doc = add(doc, tokens, path, v);
        break;
      }
      case 'copy':
        doc = add(doc, tokens, path, get(doc, pointer(o.from, `operation ${i} from`), o.from!));
        break;
      case 'test':
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

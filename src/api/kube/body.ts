// Request bodies: bounded reads, JSON or YAML by Content-Type, and the duplicate fields strict decoding reports.
import type { IncomingMessage } from 'node:http';
import { parseDocument } from 'yaml';
import { decodeUtf8 } from '../../daemon/utf8.js';
import { StatusError, badRequest } from './status.js';

export const MAX_BODY_BYTES = 1 << 20;

export const MediaType = {
  Json: 'application/json',
  Yaml: 'application/yaml',
  MergePatch: 'application/merge-patch+json',
  JsonPatch: 'application/json-patch+json',
  /** Server-side apply (kubectl apply --server-side, Flux): a YAML (or JSON) configuration. */
  ApplyPatch: 'application/apply-patch+yaml',
} as const;
export type MediaType = (typeof MediaType)[keyof typeof MediaType];

/** The media type of a request, without parameters; JSON when the client sent none. */
export function contentType(req: IncomingMessage): string {
  const raw = req.headers['content-type'];
  return raw ? raw.split(';')[0]!.trim().toLowerCase() : MediaType.Json;
}

/** Reads at most `limit` bytes; more is 413 (the connection is closed rather than drained). */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new StatusError(413, 'RequestEntityTooLarge', `the request body is larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof StatusError) throw e;
    // Recorded as 499, as nginx does; nobody is left to read the answer.
    throw new StatusError(499, 'BadRequest', 'the client closed the connection before sending the whole request');
  }
  const decoded = decodeUtf8(Buffer.concat(chunks));
  if ('field' in decoded) throw badRequest(`the request body is not valid UTF-8 (in ${decoded.field}): send UTF-8 text`, { causes: [{ reason: 'FieldValueInvalid', message: 'not valid UTF-8', field: decoded.field }] });
  return decoded.text;
}

export interface Decoded {
  readonly value: unknown;
  /** Dotted paths of fields given more than once (the last one wins, as in the API server). */
  readonly duplicates: readonly string[];
}

/** Parses a JSON or YAML body; malformed input is a 400 naming where it broke. */
export function decode(text: string, type: string): Decoded {
  if (text.trim() === '') throw badRequest('the request body is empty: send a JSON (or YAML) object');
  if (type === MediaType.Yaml) return decodeYaml(text);
  try {
    const value: unknown = JSON.parse(text);
    return { value, duplicates: duplicateKeys(text) };
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function decodeYaml(text: string): Decoded {
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  const err = doc.errors[0];
  if (err) throw badRequest(`the request body is not valid YAML: ${err.message}`);
  const strictDoc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const duplicates = strictDoc.errors.filter((e) => e.code === 'DUPLICATE_KEY').map((e) => e.message);
  return { value: doc.toJS({ maxAliasCount: 100 }) as unknown, duplicates };
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/** Keys repeated within one JSON object, as dotted paths. `text` must be valid JSON (bounded by its length). */
export function duplicateKeys(text: string): string[] {
  type Frame = { array: false; path: string; keys: Set<string>; key: string } | { array: true; path: string; index: number };
  const out: string[] = [];
  const stack: Frame[] = [];
  const childPath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '';
    return top.array ? `${top.path}[${top.index}]` : join(top.path, top.key);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') {
      const path = childPath();
      stack.push(c === '{' ? { array: false, path, keys: new Set(), key: '' } : { array: true, path, index: 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.array) top.index++;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k]!)) k++;
      if (top && !top.array && text[k] === ':') {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) out.push(join(top.path, key));
        top.keys.add(key);
        top.key = key;
      }
      i = j;
    }
  }
  return out;
}

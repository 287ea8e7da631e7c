// Small HTTP helpers shared by the daemon's routes: bounded bodies, JSON answers, errors that name the field.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAllocError } from '../alloc/errors.js';
import { isInputError } from '../net/errors.js';
import { isEtcdNoSpace } from '../store/errors.js';
import { decodeUtf8 } from './utf8.js';

/** An answer other than 2xx, with a machine-readable code and (for bad input) the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Whether the same request may succeed later (clients and the CNI plugin retry these). */
    readonly retryable = false,
  ) {
    super(message);
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a request body, refusing more than `limit` bytes (413) without buffering the excess. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, 'BodyTooLarge', `request body of ${declared} bytes exceeds the limit of ${limit}`));
  }
  // Plain 'data' events: an async iterator per request costs more than the rest of a small allocation request.
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, 'BodyTooLarge', `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      parts.push(chunk);
    });
    req.once('end', () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
    req.once('error', () => reject(clientClosed()));
  });
}

/** The client went away mid-request: recorded as 499 (nginx's "client closed request"); nobody is left to answer. */
export const clientClosed = () => new HttpError(499, 'ClientClosedRequest', 'the client closed the connection before sending the whole request');

/** A JSON object body; a clear 400 otherwise. */
export async function readJsonObject(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const decoded = decodeUtf8(await readBody(req, limit));
  if ('field' in decoded) throw new HttpError(400, 'InvalidUTF8', `${decoded.field}: holds bytes that are not valid UTF-8; send UTF-8 text`, decoded.field);
  let v: unknown;
  try {
    v = JSON.parse(decoded.text);
  } catch (e) {
    throw new HttpError(400, 'MalformedJSON', `request body is not valid JSON: ${(e as Error).message}`, 'body');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'InvalidInput', 'must be a JSON object', 'body');
  return v as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Status and body for any error thrown by a route: bad input 400, impossible requests 409/404, etcd out of space 507
 * (not retryable: only an operator can free space), transient 503.
 */
export function errorAnswer(e: unknown): { status: number; body: { error: { code: string; message: string; field?: string; retryable: boolean } } } {
  const err = (status: number, code: string, message: string, field: string | undefined, retryable: boolean) => ({
    status,
    body: { error: { code, message, ...(field ? { field } : {}), retryable } },
  });
  if (e instanceof HttpError) return err(e.status, e.code, e.message, e.field, e.retryable);
  if (isInputError(e)) return err(400, e.code, e.message, e.field, false);
  if (isEtcdNoSpace(e)) return err(507, e.code, e.message, undefined, false);
  if (isAllocError(e)) {
    const notFound = e.code.endsWith('NotFound') || e.code === 'UnknownAllocation';
    const status = notFound ? 404 : 409; // 409: the request is valid but the pools' state refuses it (now)
    return err(status, e.code, e.message, e.field || undefined, e.retryable);
  }
  return err(503, 'Unavailable', `temporarily unavailable: ${(e as Error)?.message ?? String(e)}; retry later`, undefined, true);
}

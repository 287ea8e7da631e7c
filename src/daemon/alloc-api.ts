// The daemon's own allocation API (/v1): allocate, release, look up by container or pod. JSON in, JSON out.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ReleaseReason } from '../../events/catalogue.js';
import type { Allocator } from '../alloc/allocator.js';
import { allocationView, type AllocationRecord } from '../alloc/model.js';
import { InputError } from '../net/errors.js';
import { parseAllocateBody, parseReason, parseReleaseBody } from './allocate-body.js';
import { HttpError, readJsonObject, sendJson } from './http.js';
import type { RequestUrl } from './request-url.js';

export interface AllocApiDeps {
  readonly allocator: Allocator;
  readonly node: string;
  now(): string;
}

/**
 * Reads wait until this daemon's model holds what the client saw: the revision it names (`minRevision`, from an
 * earlier answer of any daemon), or else every write this daemon made. So a client reads its own writes.
 */
async function readBarrier(a: Allocator, url: RequestUrl): Promise<void> {
  const raw = url.searchParams.get('minRevision');
  if (raw === null) return a.awaitOwnWrites();
  const rev = Number(raw);
  if (!Number.isSafeInteger(rev) || rev < 0) throw new InputError('minRevision', 'must be a non-negative integer (a revision from an earlier answer)');
  return a.waitFor(rev);
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InputError('id', 'the path has a malformed %-escape (each % must start a UTF-8 byte as two hex digits)');
  }
}

/**
 * The daemon's own time on an allocation (body read to answer, ms) as a Server-Timing entry (W3C Server Timing):
 * a client tells its waits outside the daemon (its own event loop, TLS, the network) from the daemon's.
 */
export const serverTiming = (started: number) => `app;dur=${(performance.now() - started).toFixed(2)}`;

/** Handles /v1/allocations and /v1/releases; false for any other path. */
export function createAllocApi(deps: AllocApiDeps): (req: IncomingMessage, res: ServerResponse, url: RequestUrl) => Promise<boolean> {
  const a = deps.allocator;
  return async (req, res, url) => {
    const path = url.pathname;
    if (path === '/v1/allocations' && req.method === 'POST') {
      const started = performance.now();
      const request = parseAllocateBody(await readJsonObject(req), { node: deps.node, at: deps.now() });
      const r = await a.allocate(request);
      sendJson(res, r.reused ? 200 : 201, { allocations: r.allocations.map(allocationView), reused: r.reused, revision: r.revision }, { 'server-timing': serverTiming(started) });
      return true;
    }
    if (path === '/v1/allocations' && req.method === 'GET') {
      await readBarrier(a, url);
      const containerID = url.searchParams.get('containerID');
      const namespace = url.searchParams.get('namespace');
      const name = url.searchParams.get('name');
      let found: AllocationRecord[];
      if (containerID) found = [...(a.model.byContainer.get(containerID) ?? [])].map((id) => a.model.byId.get(id)!).filter(Boolean);
      else if (namespace && name) found = [...a.model.byId.values()].filter((x) => x.endpoint.namespace === namespace && x.endpoint.name === name);
      else throw new InputError('containerID', 'give containerID, or namespace and name');
      sendJson(res, 200, { allocations: found.map(allocationView), revision: a.revision });
      return true;
    }
    const byId = /^\/v1\/allocations\/([^/]+)$/.exec(path);
    if (byId && req.method === 'DELETE') {
      const r = await a.releaseById(decodeId(byId[1]!), parseReason(url.searchParams.get('reason'), ReleaseReason.Admin), deps.now());
      sendJson(res, 200, { released: r.released.map(allocationView), revision: r.revision });
      return true;
    }
    if (path === '/v1/releases' && req.method === 'POST') {
      const body = parseReleaseBody(await readJsonObject(req));
      const r =
        'containerID' in body
          ? await a.releaseContainer(body.containerID, body.nic, deps.now())
          : await a.releasePod(body.namespace, body.name, body.uid, body.reason, deps.now());
      sendJson(res, 200, { released: r.released.map(allocationView), revision: r.revision });
      return true;
    }
    if (path === '/v1/allocations' || path === '/v1/releases' || byId) throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}`);
    return false;
  };
}

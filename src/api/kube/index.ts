// Kubernetes-style REST for the engine's resources, mounted by the daemon: discovery, /version, list, get, watch,
// and writes of pools, subnets and reservations. Answers false for paths it does not serve (the daemon's own).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChangeFeed } from './change-feed.js';
import { DEFAULT_LIMITS, KeyedLock, SharedRead, sendJson, sendStatus, type Ctx, type KubeApiDeps, type KubeApiLimits } from './context.js';
import { coreVersions, groupDoc, groupList, resourceList, versionInfo } from './discovery.js';
import { LiveObjectReader } from './objects.js';
import { acceptsJson, openApi } from './openapi.js';
import * as reads from './reads.js';
import { findResource, verbsOf, type ResourceDef } from './resources.js';
import { badRequest, StatusError, toStatusError } from './status.js';
import { watch } from './watch.js';
import { WatchBudget } from './watch-budget.js';
import * as writes from './writes.js';

export type { KubeApiDeps, KubeApiLimits } from './context.js';

export type KubeApiHandler = ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) & {
  /** Stops following the read model (the daemon calls it on shutdown). */
  close(): void;
  /** Open watches and their backlog (for tests and metrics). */
  readonly watches: WatchBudget;
};

const notFoundPath = (path: string) => new StatusError(404, 'NotFound', `the server could not find the requested resource (${path})`);
const methodNotAllowed = (method: string, what: string) => new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource: ${method} ${what}`);

function only(method: string | undefined, allowed: string, path: string): void {
  if (method !== allowed && !(allowed === 'GET' && method === 'HEAD')) throw methodNotAllowed(method ?? '', path);
}

interface ResourceRoute {
  readonly def: ResourceDef;
  readonly namespace?: string;
  readonly name?: string;
  readonly status: boolean;
  readonly watchPath: boolean;
}

function resourceRoute(parts: string[], path: string): ResourceRoute {
  const [, group, version, ...rest0] = parts as [string, string, string, ...string[]];
  let rest = rest0;
  const watchPath = rest[0] === 'watch';
  if (watchPath) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces') {
    if (rest.length < 3) throw notFoundPath(path);
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, sub, ...extra] = rest;
  const def = plural === undefined ? undefined : findResource(group, version, plural);
  if (!def || extra.length > 0) throw notFoundPath(path);
  if (namespace !== undefined && !def.namespaced) throw notFoundPath(path);
  if (name !== undefined && def.namespaced && namespace === undefined) throw notFoundPath(path);
  if (sub !== undefined && (sub !== 'status' || !def.statusSubresource)) throw notFoundPath(path);
  return { def, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), status: sub === 'status', watchPath };
}

function verbOf(method: string, r: ResourceRoute, q: URLSearchParams): string {
  const watching = r.watchPath || q.get('watch') === 'true' || q.get('watch') === '1';
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watching ? 'watch' : r.name === undefined ? 'list' : 'get';
    case 'POST':
      return r.name === undefined ? 'create' : '';
    case 'PUT':
      return r.name === undefined ? '' : 'update';
    case 'PATCH':
      return r.name === undefined ? '' : 'patch';
    case 'DELETE':
      return r.name === undefined ? 'deletecollection' : 'delete';
    default:
      return '';
  }
}

async function serveResource(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: ResourceRoute, q: URLSearchParams, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  const verb = verbOf(method, r, q);
  if (r.status && verb !== 'get') {
    throw methodNotAllowed(method, `${path}: status is computed from the allocation log and cannot be written`);
  }
  if (!verbsOf(r.def).includes(verb)) throw methodNotAllowed(method, `${r.def.plural}.${r.def.group} (it supports ${verbsOf(r.def).join(', ')})`);
  if (r.def.namespaced && r.namespace === undefined && verb === 'create') throw notFoundPath(path);
  switch (verb) {
    case 'list':
      return reads.list(ctx, req, res, r, q);
    case 'get':
      return reads.get(ctx, req, res, { ...r, name: r.name! }, q);
    case 'watch':
      return watch(ctx, req, res, r, q);
    case 'create':
      return writes.create(ctx, req, res, r, q);
    case 'update':
      return writes.replace(ctx, req, res, { ...r, name: r.name! }, q);
    case 'patch':
      return writes.patch(ctx, req, res, { ...r, name: r.name! }, q);
    case 'delete':
      return writes.remove(ctx, req, res, { ...r, name: r.name! }, q);
    default:
      throw methodNotAllowed(method, path);
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`the path segment ${JSON.stringify(segment.slice(0, 100))} has a malformed %-escape (each % must start a UTF-8 byte as two hex digits)`);
  }
}

async function route(ctx: Ctx, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  const parts = path.split('/').filter((p) => p !== '').map(decodeSegment);
  const head = parts[0];
  if (path === '/version' || path === '/version/') {
    only(req.method, 'GET', path);
    sendJson(res, 200, versionInfo());
    return true;
  }
  if (head === 'openapi') {
    only(req.method, 'GET', path);
    const doc = openApi(parts.slice(1));
    if (doc === undefined) throw notFoundPath(path);
    if (!acceptsJson(req.headers.accept)) {
      throw new StatusError(406, 'NotAcceptable', `only the following media types are accepted: application/json (asked for ${req.headers.accept})`);
    }
    sendJson(res, 200, doc);
    return true;
  }
  if (head === 'api') {
    only(req.method, 'GET', path);
    // No core (legacy) group is served: /api lists no versions, as client-go's discovery then skips the group.
    if (parts.length === 1) sendJson(res, 200, coreVersions());
    else throw notFoundPath(path);
    return true;
  }
  if (head !== 'apis') return false;
  if (parts.length <= 3) {
    only(req.method, 'GET', path);
    const doc = parts.length === 1 ? groupList() : parts.length === 2 ? groupDoc(parts[1]!) : resourceList(parts[1]!, parts[2]!);
    if (doc === undefined) throw notFoundPath(path);
    sendJson(res, 200, doc);
    return true;
  }
  await serveResource(ctx, req, res, resourceRoute(parts, path), url.searchParams, path);
  return true;
}

export function createKubeApi(deps: KubeApiDeps, limits: Partial<KubeApiLimits> = {}): KubeApiHandler {
  const l: KubeApiLimits = { ...DEFAULT_LIMITS, ...limits };
  const feed = new ChangeFeed(deps.model, l.feedCapacity);
  const watches = new WatchBudget(l);
  const ctx: Ctx = { deps, reader: new LiveObjectReader(deps.model, feed), locks: new KeyedLock(), limits: l, watches, head: new SharedRead(() => deps.allocator.store.headRevision()) };
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return false;
    }
    try {
      return await route(ctx, req, res, url);
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return true;
      }
      sendStatus(res, toStatusError(e, { kind: '', group: '', resource: '', name: '' }));
      return true;
    }
  };
  return Object.assign(handler, {
    close: () => {
      watches.closeAll(); // their timers and subscriptions end with them: a stopping daemon exits
      feed.close();
    },
    watches,
  });
}

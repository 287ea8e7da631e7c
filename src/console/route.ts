// The web console's thin daemon route: the page's static files (public: they hold no data, and a browser cannot
// send the bearer token when it navigates) and its JSON reads (behind the daemon's token, as every other read).
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { history } from '../../projections/history.js';
import type { DaemonParts, RouteHandler } from '../daemon/daemon.js';
import { HttpError, sendJson } from '../daemon/http.js';
import type { RequestUrl } from '../daemon/request-url.js';
import { overview, poolMap, searchEndpoints, MAX_ENDPOINT_RESULTS } from './reads.js';
import { TimeMachine, type PointInTime } from './time-travel.js';

/** Where the build puts the bundled page (dist/console), next to dist/src/console/route.js. */
const ASSETS = resolve(dirname(fileURLToPath(import.meta.url)), '../../console');

// No inline script or style, nothing from elsewhere: a hostile pod name can only ever be text.
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STATIC: Readonly<Record<string, { file: string; type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

/** The page's files, read once (a few hundred KB); a daemon built without the console answers 404 for them. */
export function consoleAssetsRoute(dir = ASSETS): () => RouteHandler {
  const files = new Map<string, Buffer>();
  for (const { file } of Object.values(STATIC)) if (existsSync(join(dir, file))) files.set(file, readFileSync(join(dir, file)));
  return () => async (req: IncomingMessage, res: ServerResponse, url: RequestUrl) => {
    const s = STATIC[url.pathname];
    if (!s || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const body = files.get(s.file);
    if (!body) throw new HttpError(404, 'ConsoleNotBuilt', `the console's ${s.file} is not in ${dir}: run \`npm run build\``);
    res.writeHead(200, { 'content-type': s.type, 'content-length': body.length, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function pointInTime(q: URLSearchParams): PointInTime | undefined {
  const rev = q.get('revision');
  const time = q.get('time');
  if (rev !== null && time !== null) throw new HttpError(400, 'InvalidInput', 'give revision or time, not both', 'revision');
  if (rev !== null) {
    if (!/^\d{1,15}$/.test(rev)) throw new HttpError(400, 'InvalidInput', `revision must be a non-negative integer, got ${JSON.stringify(rev.slice(0, 40))}`, 'revision');
    return { revision: Number(rev) };
  }
  if (time !== null) {
    const t = new Date(time);
    if (Number.isNaN(t.getTime()) || time.length > 40) throw new HttpError(400, 'InvalidInput', 'time must be an RFC 3339 time such as 2026-11-23T14:02:00Z', 'time');
    return { time: t };
  }
  return undefined;
}

const text = (q: URLSearchParams, name: string, max = 256): string => {
  const v = q.get(name) ?? '';
  if (v.length > max) throw new HttpError(400, 'InvalidInput', `${name} is longer than ${max} characters`, name);
  return v;
};

const answer = (res: ServerResponse, body: unknown): true => {
  sendJson(res, 200, body, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  return true;
};

/** GET /console/api/...: overview, one pool's address map (now or in the past), endpoint search, history. */
export function consoleApiRoute(parts: DaemonParts): RouteHandler {
  const machine = new TimeMachine(parts.store, parts.logPages, parts.archive);
  const live = () => parts.allocator.model; // read each time: a restart from the horizon checkpoint replaces the model
  const modelFor = async (q: URLSearchParams) => {
    const at = pointInTime(q);
    if (!at) return { model: live(), revision: parts.allocator.revision };
    const model = await machine.modelAt(at);
    return { model, revision: model.revision };
  };
  return async (req, res, url) => {
    if (!url.pathname.startsWith('/console/api/')) return false;
    if (req.method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'the console API is read-only (GET)');
    const q = url.searchParams;
    const path = url.pathname.slice('/console/api/'.length);
    if (path === 'overview') {
      const { model, revision } = await modelFor(q);
      return answer(res, overview(model, revision));
    }
    const m = /^pools\/([^/]{1,253})\/map$/.exec(path);
    if (m) {
      let name: string;
      try {
        name = decodeURIComponent(m[1]!);
      } catch {
        throw new HttpError(400, 'InvalidInput', 'the pool name in the path is not valid percent-encoding', 'name');
      }
      const page = text(q, 'page', 40) || '0';
      if (!/^\d+$/.test(page)) throw new HttpError(400, 'InvalidInput', 'page must be a non-negative integer', 'page');
      const { model, revision } = await modelFor(q);
      let map;
      try {
        map = poolMap(model, name, BigInt(page), revision);
      } catch (e) {
        throw new HttpError(400, 'InvalidInput', (e as Error).message, 'page');
      }
      if (!map) throw new HttpError(404, 'PoolNotFound', `pool ${name} does not exist${model === live() ? '' : ' at that point in time'}`);
      return answer(res, map);
    }
    if (path === 'endpoints') {
      const limit = Math.min(MAX_ENDPOINT_RESULTS, Number(text(q, 'limit', 4) || MAX_ENDPOINT_RESULTS) || MAX_ENDPOINT_RESULTS);
      return answer(res, { revision: parts.allocator.revision, ...searchEndpoints(live(), text(q, 'q'), limit) });
    }
    if (path === 'history') {
      const ip = text(q, 'ip', 64);
      const pod = text(q, 'pod', 512);
      if (!ip === !pod) throw new HttpError(400, 'InvalidInput', 'give ip=ADDRESS or pod=NAMESPACE/NAME', 'ip');
      const holdings = await history(parts.store, ip ? { address: ip } : { pod }, parts.logPages);
      return answer(res, { revision: await parts.store.currentRevision(), holdings });
    }
    throw new HttpError(404, 'NotFound', `no console API at ${url.pathname}`);
  };
}

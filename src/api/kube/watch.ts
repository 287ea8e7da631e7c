// watch=true: a stream of JSON lines {type, object}. From no resourceVersion (or "0"), the current objects come first
// as ADDED; from a resourceVersion, what changed since (410 Expired when that is older than the change feed holds).
// Then every change as it is applied. BOOKMARK events when allowed; sendInitialEvents=true ends the initial events
// with the bookmark Kubernetes marks "k8s.io/initial-events-end".
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChangeType } from '../../../projections/read-model.js';
import type { K8sObject } from '../../../projections/types.js';
import type { Ctx } from './context.js';
import { objectKeyOf, withVersion } from './objects.js';
import { catchUp, parseRevision, reach, type ReadRoute } from './reads.js';
import { groupVersion } from './resources.js';
import { fieldMatcher, objectMatcher, type Matcher } from './selectors.js';
import { StatusError } from './status.js';
import { includeObjectOf, negotiate, table } from './table.js';

type EventType = ChangeType | 'BOOKMARK';

/**
 * A live change's JSON line, made once for all the watches that send it as the same event type (the change objects
 * are shared by every subscriber): n watches of a busy resource cost one serialisation per change, not n.
 */
const sharedLines = new WeakMap<object, { revision: string; lines: Partial<Record<EventType, string>> }>();

function matcherOf(r: ReadRoute, q: URLSearchParams): Matcher | undefined {
  const m = objectMatcher(q);
  if (r.name === undefined) return m;
  const byName = fieldMatcher(`metadata.name=${r.name}`)!;
  return m ? (o) => byName(o) && m(o) : byName;
}

function timeoutOf(ctx: Ctx, q: URLSearchParams): number {
  const t = q.get('timeoutSeconds');
  if (t === null) return ctx.limits.maxWatchSeconds;
  if (!/^\d+$/.test(t)) throw new StatusError(400, 'BadRequest', `timeoutSeconds must be a whole number of seconds, got ${JSON.stringify(t)}`);
  return Math.min(Number(t), ctx.limits.maxWatchSeconds);
}

export async function watch(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: ReadRoute, q: URLSearchParams): Promise<void> {
  const def = r.def;
  if (def.source.kind !== 'projection') throw new StatusError(405, 'MethodNotAllowed', `${def.plural}.${def.group} cannot be watched; list it instead`);
  const projection = def.source.projection;
  const as = negotiate(req.headers.accept);
  const include = includeObjectOf(q);
  const match = matcherOf(r, q);
  const timeoutSeconds = timeoutOf(ctx, q);
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  const initialEvents = q.get('sendInitialEvents') === 'true';
  const rv = q.get('resourceVersion') ?? '';
  // Counted and closable from the start: a client gone during the catch-up wait leaves nothing behind.
  const slot = ctx.watches.admit(req, res);
  if (slot.closed) return; // gone already: no catch-up read for nobody
  let from: number | 'current';
  try {
    if (initialEvents || rv === '' || rv === '0') {
      if (rv === '' && !initialEvents) await catchUp(ctx, def);
      else if (rv !== '' && rv !== '0') await reach(ctx, def, parseRevision(rv));
      from = 'current';
    } else {
      from = parseRevision(rv);
      await reach(ctx, def, from);
      if (from < ctx.reader.feed.floor) {
        throw new StatusError(410, 'Expired', `too old resource version: ${from} (${ctx.reader.feed.floor}): list again and watch from the list's resourceVersion`);
      }
    }
  } catch (e) {
    slot.cancel();
    throw e;
  }
  if (slot.closed) return;

  // From here on, synchronous until subscribed: the snapshot (or replay) and the live changes do not overlap or gap.
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  let headers = true;
  const visible = new Set<string>();
  const keyOf = (o: K8sObject) => objectKeyOf(def, o.metadata.namespace, o.metadata.name);
  // The events of one tick (a feed batch, the initial list) leave in one write: one TLS record and syscall per batch
  // and watch, not per event (n watches of a busy resource were n syscalls per change).
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
    if (!slot.closed) slot.wrote(); // what the socket took on uncork no longer counts as unread
  };
  // `shared`: the live change `object` comes from, whose line other watches may already have made.
  const send = (type: EventType, object: unknown, shared?: object) => {
    if (slot.closed) return;
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(uncork);
    }
    if (as === 'table' && type !== 'BOOKMARK') {
      res.write(`${JSON.stringify({ type, object: table(def, [object as K8sObject], String((object as K8sObject).metadata.resourceVersion), include, headers) })}\n`);
      headers = false;
    } else if (shared) {
      const revision = String((object as K8sObject).metadata.resourceVersion);
      let made = sharedLines.get(shared);
      if (made?.revision !== revision) sharedLines.set(shared, (made = { revision, lines: {} })); // a change object is one revision's
      res.write((made.lines[type] ??= `${JSON.stringify({ type, object })}\n`));
    } else res.write(`${JSON.stringify({ type, object })}\n`);
    slot.wrote(); // a slow reader is ended with a 410 ERROR event and re-watches from its resourceVersion
  };
  const deliver = (type: ChangeType, o: K8sObject, shared?: object) => {
    if (r.namespace !== undefined && o.metadata.namespace !== r.namespace) return;
    if (!match) return send(type, o, shared);
    // With a selector, an object that stops matching is DELETED for this watch, and ADDED when it starts matching.
    const k = keyOf(o);
    const was = visible.has(k);
    if (type !== 'DELETED' && match(o)) {
      visible.add(k);
      send(was ? 'MODIFIED' : 'ADDED', o, shared);
    } else if (was) {
      visible.delete(k);
      send('DELETED', o, shared);
    }
  };
  const bookmark = (annotations?: Record<string, string>) =>
    send('BOOKMARK', { kind: def.kind, apiVersion: groupVersion(def), metadata: { resourceVersion: String(ctx.reader.revisionOf(def)), ...(annotations ? { annotations } : {}) } });

  if (from === 'current') {
    for (const o of ctx.reader.list(def, r.namespace)) deliver('ADDED', o);
    if (initialEvents) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const replay = ctx.reader.feed.since(projection, from)!;
    if (match) {
      const added = new Set(replay.filter((e) => e.type === 'ADDED').map((e) => keyOf(e.object)));
      for (const o of ctx.reader.list(def, r.namespace)) if (match(o) && !added.has(keyOf(o))) visible.add(keyOf(o));
    }
    for (const e of replay) deliver(e.type, withVersion(e.object, e.revision));
  }
  const unsubscribe = ctx.reader.feed.subscribe((changes, revision) => {
    for (const c of changes) if (c.projection === projection) deliver(c.type, withVersion(c.object, revision), c);
  });
  const ticker = bookmarks ? setInterval(() => bookmark(), ctx.limits.bookmarkIntervalMs) : undefined;
  const deadline = setTimeout(() => slot.end(), timeoutSeconds * 1000);
  slot.onClose(() => {
    unsubscribe();
    if (ticker) clearInterval(ticker);
    clearTimeout(deadline);
  });
}

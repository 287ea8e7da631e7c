// list and get, with the API server's resourceVersion semantics: unset is a consistent read (this server's view
// catches up with etcd first), "0" is whatever the view holds, a number is "not older than" (or Exact: at exactly
// that revision, from the past when the view has moved on).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { K8sObject } from '../../../projections/types.js';
import { sendJson, within, type Ctx } from './context.js';
import { ArchiveRequired } from '../../lifecycle/log-source.js';
import { objectKeyOf, pastReader, type ObjectReader } from './objects.js';
import { groupVersion, type ResourceDef } from './resources.js';
import { objectMatcher } from './selectors.js';
import { badRequest, notFound, StatusError } from './status.js';
import { includeObjectOf, negotiate, table } from './table.js';

export interface ReadRoute {
  readonly def: ResourceDef;
  readonly namespace?: string;
  readonly name?: string;
}

export function parseRevision(v: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v)) throw badRequest(`invalid resourceVersion ${JSON.stringify(v)}: a resourceVersion is a revision number this server gave out`);
  return Number(v);
}

/** Waits until this server's view of `def` is at least at `rev` (504 Timeout after the limit). */
export async function reach(ctx: Ctx, def: ResourceDef, rev: number): Promise<void> {
  if (ctx.reader.revisionOf(def) >= rev) return;
  const wait = def.source.kind === 'projection' ? ctx.deps.model.waitFor(rev) : ctx.deps.allocator.sync();
  await within(wait, ctx.limits.waitTimeoutMs, `Too large resource version: ${rev}, current: ${ctx.reader.revisionOf(def)}`);
}

/** A consistent read: everything committed before the request is in the view. */
export async function catchUp(ctx: Ctx, def: ResourceDef): Promise<void> {
  const head = await ctx.head.get();
  await reach(ctx, def, head);
}

/**
 * Applies resourceVersion and resourceVersionMatch of a list or get; answers the view to read. Exact at a revision
 * the live view has passed is read from the projections at that revision (deps.past: the nearest checkpoint, then
 * archive + etcd), as the API server reads etcd at that revision; a revision beyond etcd's is "Too large resource
 * version" (504 Timeout, cause ResourceVersionTooLarge), one nothing can rebuild is 410 Expired ("too old").
 */
async function fresh(ctx: Ctx, def: ResourceDef, q: URLSearchParams): Promise<{ reader: ObjectReader; revision: number }> {
  const live = { reader: ctx.reader, get revision() { return ctx.reader.revisionOf(def); } };
  const rv = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  if (match !== '' && match !== 'NotOlderThan' && match !== 'Exact') throw badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
  if (rv === '') {
    if (match !== '') throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    await catchUp(ctx, def);
    return live;
  }
  if (match === 'Exact' && rv === '0') {
    throw new StatusError(422, 'Invalid', 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"', {
      group: 'meta.k8s.io',
      kind: 'ListOptions',
      causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"', field: 'resourceVersionMatch' }],
    });
  }
  const rev = parseRevision(rv);
  if (match !== 'Exact') {
    if (rev > 0) await reach(ctx, def, rev);
    return live;
  }
  if (ctx.reader.revisionOf(def) < rev) {
    const current = await ctx.deps.allocator.store.currentRevision();
    if (rev > current) throw tooLarge(rev, current);
    await reach(ctx, def, rev);
  }
  if (ctx.reader.revisionOf(def) === rev) return live;
  if (!ctx.deps.past) throw new StatusError(410, 'Expired', `The resourceVersion for the provided list is too old. (resource version ${rev}: this server serves only its current view, ${ctx.reader.revisionOf(def)}, exactly)`);
  try {
    const past = pastReader(await ctx.deps.past(rev));
    return { reader: past, revision: rev };
  } catch (e) {
    if (e instanceof ArchiveRequired) throw new StatusError(410, 'Expired', `The resourceVersion for the provided list is too old. (${e.message}: the daemon's --archive-dir)`);
    throw e;
  }
}

/** The API server's answer for a revision etcd has not reached (storage.NewTooLargeResourceVersionError). */
function tooLarge(rev: number, current: number): StatusError {
  return new StatusError(504, 'Timeout', `Too large resource version: ${rev}, current: ${current}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
}

export async function list(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: ReadRoute, q: URLSearchParams): Promise<void> {
  const as = negotiate(req.headers.accept);
  const include = includeObjectOf(q);
  const match = objectMatcher(q);
  const view = await fresh(ctx, r.def, q);
  // Read in one tick: the objects and the revision belong together.
  const revision = String(view.revision);
  let items: K8sObject[] = view.reader.list(r.def, r.namespace);
  if (match) items = items.filter(match);
  // limit/continue are not honoured: the whole list is one consistent page (clients accept a list without continue).
  if (as === 'table') return sendJson(res, 200, table(r.def, items, revision, include));
  sendJson(res, 200, { apiVersion: groupVersion(r.def), kind: r.def.listKind, metadata: { resourceVersion: revision }, items });
}

export async function get(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: ReadRoute & { name: string }, q: URLSearchParams): Promise<void> {
  const as = negotiate(req.headers.accept);
  const include = includeObjectOf(q);
  const view = await fresh(ctx, r.def, q);
  const o = view.reader.get(r.def, objectKeyOf(r.def, r.namespace, r.name));
  if (!o) throw notFound({ kind: r.def.kind, group: r.def.group, resource: r.def.plural, name: r.name });
  if (as === 'table') return sendJson(res, 200, table(r.def, [o], String(o.metadata.resourceVersion), include));
  sendJson(res, 200, o);
}

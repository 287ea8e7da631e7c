// list and get, with the API server's resourceVersion semantics: unset is a consistent read (this server's view
// catches up with etcd first), "0" is whatever the view holds, a number is "not older than" (or Exact).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { K8sObject } from '../../../projections/types.js';
import { sendJson, within, type Ctx } from './context.js';
import { objectKeyOf } from './objects.js';
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

/** Applies resourceVersion and resourceVersionMatch of a list or get. */
async function fresh(ctx: Ctx, def: ResourceDef, q: URLSearchParams): Promise<void> {
  const rv = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  if (match !== '' && match !== 'NotOlderThan' && match !== 'Exact') throw badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
  if (rv === '') {
    if (match !== '') throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    return catchUp(ctx, def);
  }
  const rev = parseRevision(rv);
  if (match === 'Exact') {
    if (ctx.reader.revisionOf(def) > rev) throw new StatusError(410, 'Expired', `too old resource version: ${rev} (${ctx.reader.revisionOf(def)}): this server serves only its current view exactly`);
    await reach(ctx, def, rev);
    if (ctx.reader.revisionOf(def) !== rev) throw new StatusError(410, 'Expired', `resource version ${rev} is not served exactly: the view moved on to ${ctx.reader.revisionOf(def)}`);
    return;
  }
  if (rev > 0) await reach(ctx, def, rev);
}

export async function list(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: ReadRoute, q: URLSearchParams): Promise<void> {
  const as = negotiate(req.headers.accept);
  const include = includeObjectOf(q);
  const match = objectMatcher(q);
  await fresh(ctx, r.def, q);
  // Read in one tick: the objects and the revision belong together.
  const revision = String(ctx.reader.revisionOf(r.def));
  let items: K8sObject[] = ctx.reader.list(r.def, r.namespace);
  if (match) items = items.filter(match);
  // limit/continue are not honoured: the whole list is one consistent page (clients accept a list without continue).
  if (as === 'table') return sendJson(res, 200, table(r.def, items, revision, include));
  sendJson(res, 200, { apiVersion: groupVersion(r.def), kind: r.def.listKind, metadata: { resourceVersion: revision }, items });
}

export async function get(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: ReadRoute & { name: string }, q: URLSearchParams): Promise<void> {
  const as = negotiate(req.headers.accept);
  const include = includeObjectOf(q);
  await fresh(ctx, r.def, q);
  const o = ctx.reader.get(r.def, objectKeyOf(r.def, r.namespace, r.name));
  if (!o) throw notFound({ kind: r.def.kind, group: r.def.group, resource: r.def.plural, name: r.name });
  if (as === 'table') return sendJson(res, 200, table(r.def, [o], String(o.metadata.resourceVersion), include));
  sendJson(res, 200, o);
}

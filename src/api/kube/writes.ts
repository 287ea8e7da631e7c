// Create (POST), replace (PUT), patch (merge or JSON patch) and delete of pools, subnets and reservations, each
// turned into allocator calls: dryRun=All decides and writes nothing; fieldValidation=Ignore|Warn|Strict as the API
// server applies it; after a write, the answer waits until this server's view holds it (read-your-writes).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectMeta } from '../../../events/catalogue.js';
import type { K8sObject } from '../../../projections/types.js';
import type { ConfigOptions, ConfigResult } from '../../alloc/allocator.js';
import { InputError } from '../../net/errors.js';
import { contentType, decode, MediaType, readBody } from './body.js';
import { sendJson, within, type Ctx } from './context.js';
import { isRecord, OBJECT_META_FIELDS, objectMeta, sameMeta, TOP_LEVEL_FIELDS, unknownFields } from './meta.js';
import { objectKeyOf, withVersion } from './objects.js';
import { jsonPatch, mergePatch, type PatchLimits } from './patch.js';
import { groupVersion, type ResourceDef } from './resources.js';
import { badRequest, conflict, fieldInvalid, notFound, StatusError, toStatusError, type Subject } from './status.js';
import { valueAt } from './table.js';
import { isUnknownFieldWarning, TARGETS, type CompiledWrite, type Target } from './targets.js';
import { ApplyConflict, MAX_MANAGER_LENGTH, recordUpdate, serverSideApply, type ManagedFieldsEntry } from './managed-fields.js';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

interface WriteParams {
  readonly dryRun: boolean;
  readonly validation: FieldValidation;
  /** fieldManager, or the API server's default: the user agent up to its first '/' (128 characters at most). */
  readonly manager: string;
  readonly managerGiven: boolean;
  readonly force: boolean;
}

const MANAGER = /^[\x20-\x7e]*$/;

export function writeParams(q: URLSearchParams, userAgent?: string): WriteParams {
  const fm = q.get('fieldManager');
  if (fm !== null && (fm.length > MAX_MANAGER_LENGTH || !MANAGER.test(fm))) {
    throw new StatusError(422, 'Invalid', `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: ${JSON.stringify(fm)}: must be at most ${MAX_MANAGER_LENGTH} printable characters`);
  }
  const force = q.get('force');
  if (force !== null && force !== 'true' && force !== 'false') throw badRequest(`force: Invalid value: ${JSON.stringify(force)}: must be true or false`);
  const manager = fm ?? ((userAgent ?? 'unknown').split('/')[0]!.slice(0, MAX_MANAGER_LENGTH) || 'unknown');
  const dry = q.getAll('dryRun');
  for (const d of dry) if (d !== 'All') throw badRequest(`dryRun: Unsupported value: ${JSON.stringify(d)}: supported values: "All"`);
  const fv = q.getAll('fieldValidation');
  if (fv.length > 1) throw badRequest('fieldValidation may be given once');
  const v = fv[0] ?? 'Warn';
  if (v !== 'Ignore' && v !== 'Warn' && v !== 'Strict') {
    throw badRequest(`fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Warn", "Strict"`);
  }
  return { dryRun: dry.length > 0, validation: v, manager, managerGiven: fm !== null && fm !== '', force: force === 'true' };
}

export interface WriteRoute {
  readonly def: ResourceDef;
  readonly namespace?: string;
  readonly name?: string;
}

const subjectOf = (def: ResourceDef, name: string): Subject => ({ kind: def.kind, group: def.group, resource: def.plural, name });

function targetOf(def: ResourceDef): Target {
  if (!def.writes) throw new StatusError(405, 'MethodNotAllowed', `${def.plural}.${def.group} is read-only: it is computed from the allocation log`);
  return TARGETS[def.writes];
}

/** apiVersion and kind must name this resource; the API server refuses the object otherwise. */
function checkEnvelope(def: ResourceDef, o: Record<string, unknown>): void {
  const gv = groupVersion(def);
  if (o.kind === undefined || o.kind === '') throw badRequest(`Object 'Kind' is missing in the request body (expected ${JSON.stringify(def.kind)})`);
  if (o.apiVersion === undefined || o.apiVersion === '') throw badRequest(`Object 'apiVersion' is missing in the request body (expected ${JSON.stringify(gv)})`);
  if (o.apiVersion !== gv) throw badRequest(`the API version in the data (${String(o.apiVersion)}) does not match the expected API version (${gv})`);
  if (o.kind !== def.kind) throw badRequest(`the kind in the data (${String(o.kind)}) does not match the expected kind (${def.kind})`);
}

function metadataOf(o: Record<string, unknown>): Record<string, unknown> {
  if (o.metadata === undefined || o.metadata === null) return {};
  if (!isRecord(o.metadata)) throw badRequest('metadata must be an object');
  return o.metadata;
}

async function readObject(ctx: Ctx, req: IncomingMessage): Promise<{ body: Record<string, unknown>; duplicates: readonly string[] }> {
  const type = contentType(req);
  if (type !== MediaType.Json && type !== MediaType.Yaml) {
    throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format (${type}) - accepted media types include: application/json, application/yaml`);
  }
  const { value, duplicates } = decode(await readBody(req, ctx.limits.maxBodyBytes), type);
  if (!isRecord(value)) throw badRequest('the request body must be an object with apiVersion, kind, metadata and spec');
  return { body: value, duplicates };
}

interface Prepared {
  readonly compiled: CompiledWrite;
  readonly meta: ObjectMeta;
  readonly warnings: string[];
}

/** Fields named at most in one strict decoding error (message and causes). */
const MAX_LISTED = 50;

/** Checks everything the allocator does not: the envelope's fields, labels and annotations; applies fieldValidation. */
function prepare(ctx: Ctx, target: Target, name: string, body: Record<string, unknown>, duplicates: readonly string[], p: WriteParams): Prepared {
  const metadata = metadataOf(body);
  const unknown = [...unknownFields(body, TOP_LEVEL_FIELDS, ''), ...unknownFields(metadata, OBJECT_META_FIELDS, 'metadata')];
  const meta = objectMeta(metadata);
  const compiled = target.compile(name, body, ctx.deps.allocator);
  unknown.push(...compiled.unknown);
  if (p.validation === 'Strict' && (unknown.length > 0 || duplicates.length > 0)) {
    const list = [...unknown.map((f) => `unknown field ${JSON.stringify(f)}`), ...duplicates.map((f) => `duplicate field ${JSON.stringify(f)}`)];
    const causes = [...unknown.map((f) => ({ reason: 'FieldValueInvalid', message: 'unknown field', field: f })), ...duplicates.map((f) => ({ reason: 'FieldValueDuplicate', message: 'duplicate field', field: f }))];
    // Bounded: a body naming thousands of unknown fields gets an answer of a few KB, not one larger than itself.
    const more = list.length > MAX_LISTED ? `, and ${list.length - MAX_LISTED} more` : '';
    throw badRequest(`strict decoding error: ${list.slice(0, MAX_LISTED).join(', ')}${more}`, { name, causes: causes.slice(0, MAX_LISTED) });
  }
  const warnings = p.validation === 'Warn' ? [...unknown.map((f) => `unknown field ${JSON.stringify(f)}`), ...duplicates.map((f) => `duplicate field ${JSON.stringify(f)}`)] : [];
  return { compiled, meta, warnings: [...warnings, ...compiled.warnings] };
}

/** The managed fields after an Update (create, PUT, merge or JSON patch) of `before` into `after`. */
function updateFields(ctx: Ctx, def: ResourceDef, p: WriteParams, before: K8sObject | undefined, after: unknown): ManagedFieldsEntry[] {
  const entries = (before?.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  return recordUpdate(entries, p.manager, groupVersion(def), seconds(ctx.deps.now()), before, after);
}

const seconds = (iso: string) => `${iso.slice(0, 19)}Z`;

function withFields(meta: ObjectMeta, fields: readonly ManagedFieldsEntry[]): ObjectMeta {
  const { managedFields: _ignored, ...rest } = meta;
  return fields.length > 0 ? { ...rest, managedFields: fields } : rest;
}

function options(ctx: Ctx, p: WriteParams, meta: ObjectMeta): ConfigOptions {
  return { at: ctx.deps.now(), strict: p.validation === 'Strict', dryRun: p.dryRun, metadata: meta };
}

/** Waits until this server's view holds the write, then answers with the object as it is served. */
async function answer(ctx: Ctx, res: ServerResponse, def: ResourceDef, key: string, code: number, r: ConfigResult, fallback: K8sObject, warnings: readonly string[]) {
  await within(ctx.deps.model.waitFor(r.revision), ctx.limits.waitTimeoutMs, `the write committed at revision ${r.revision}, but this server's view has not caught up yet`);
  sendJson(res, code, ctx.reader.get(def, key) ?? withVersion(fallback, r.revision), merged(warnings, r.warnings));
}

/** Our warnings, then the allocator's that say something new (unknown fields are ours to report, per fieldValidation). */
function merged(ours: readonly string[], allocator: readonly string[]): string[] {
  return [...ours, ...allocator.filter((w) => !isUnknownFieldWarning(w) && !ours.includes(w))];
}

function nameFor(def: ResourceDef, metadata: Record<string, unknown>): string {
  if (typeof metadata.name === 'string' && metadata.name !== '') return metadata.name;
  if (typeof metadata.generateName === 'string' && metadata.generateName !== '') {
    const suffix = Array.from({ length: 5 }, () => 'bcdfghjklmnpqrstvwxz2456789'[Math.floor(Math.random() * 27)]).join('');
    return `${metadata.generateName}${suffix}`;
  }
  throw new StatusError(422, 'Invalid', `${def.kind}.${def.group} "" is invalid: metadata.name: Required value: name or generateName is required`, {
    kind: def.kind,
    group: def.group,
    causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
  });
}

function checkNamespace(def: ResourceDef, target: Target, urlNamespace: string | undefined, metadata: Record<string, unknown>, s: Subject): void {
  if (!def.namespaced) return;
  const ns = metadata.namespace;
  if (ns !== undefined && ns !== '' && ns !== urlNamespace) {
    throw badRequest(`the namespace of the provided object (${String(ns)}) does not match the namespace sent on the request (${urlNamespace})`);
  }
  if (target.namespace !== undefined && urlNamespace !== target.namespace) {
    throw fieldInvalid(s, 'metadata.namespace', urlNamespace, `${def.kind} objects are served in namespace ${target.namespace} only: the engine's pool names are cluster-wide, so one namespace holds them`);
  }
}

async function guarded<T>(s: Subject, body: unknown, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toStatusError(e, s, (field) => valueAt(body, `.${field}`));
  }
}

export async function create(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: WriteRoute, q: URLSearchParams): Promise<void> {
  const p = writeParams(q, req.headers['user-agent']);
  const target = targetOf(r.def);
  const { body, duplicates } = await readObject(ctx, req);
  checkEnvelope(r.def, body);
  const metadata = metadataOf(body);
  const name = nameFor(r.def, metadata);
  const s = subjectOf(r.def, name);
  checkNamespace(r.def, target, r.namespace, metadata, s);
  const key = objectKeyOf(r.def, r.namespace, name);
  await guarded(s, body, () =>
    ctx.locks.run(target.lockKey(name), async () => {
      const prepared = prepare(ctx, target, name, body, duplicates, p);
      const { compiled, warnings } = prepared;
      const meta = withFields(prepared.meta, updateFields(ctx, r.def, p, undefined, body));
      const result = await target.define(ctx.deps.allocator, name, compiled, options(ctx, p, meta));
      const preview = compiled.preview(r.def, name, r.namespace, metadata);
      if (p.dryRun) return sendJson(res, 201, preview, merged(warnings, result.warnings));
      await answer(ctx, res, r.def, key, 201, result, preview, warnings);
    }),
  );
}

function currentOrNotFound(ctx: Ctx, def: ResourceDef, key: string, s: Subject): K8sObject {
  const current = ctx.reader.get(def, key);
  if (!current) throw notFound(s);
  return current;
}

const STALE = 'the object has been modified; please apply your changes to the latest version and try again';

/** PUT and PATCH after the new object is known: no change is no event; otherwise the allocator's change. */
async function update(
  ctx: Ctx,
  res: ServerResponse,
  r: WriteRoute & { name: string },
  target: Target,
  current: K8sObject,
  next: Record<string, unknown>,
  duplicates: readonly string[],
  p: WriteParams,
  applied?: readonly ManagedFieldsEntry[],
): Promise<void> {
  const s = subjectOf(r.def, r.name);
  checkEnvelope(r.def, next);
  const metadata = metadataOf(next);
  if (metadata.name !== undefined && metadata.name !== r.name) throw badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${r.name})`);
  checkNamespace(r.def, target, r.namespace, metadata, s);
  if (metadata.resourceVersion !== undefined && metadata.resourceVersion !== current.metadata.resourceVersion) throw conflict(s, STALE);
  const prepared = prepare(ctx, target, r.name, next, duplicates, p);
  const { compiled, warnings } = prepared;
  const fields = applied ?? updateFields(ctx, r.def, p, current, next);
  const meta = withFields(prepared.meta, fields);
  if (compiled.same(current) && sameMeta(meta, current.metadata)) return sendJson(res, 200, current, warnings);
  // An Update that changes no value (a PUT of what is stored, less what defaulting fills in) is a no-op, as on the
  // API server: ownership moves only with a change. Server-side apply records its manager even then.
  if (!applied && compiled.same(current) && sameMeta(withFields(prepared.meta, (current.metadata.managedFields ?? []) as ManagedFieldsEntry[]), current.metadata)) return sendJson(res, 200, current, warnings);
  if (!target.change) throw new StatusError(405, 'MethodNotAllowed', `${r.def.plural}.${r.def.group} cannot be changed: delete it and create it again`);
  const result = await target.change(ctx.deps.allocator, r.name, compiled, options(ctx, p, meta));
  const preview = compiled.preview(r.def, r.name, r.namespace, metadata, current);
  if (p.dryRun) return sendJson(res, 200, preview, merged(warnings, result.warnings));
  await answer(ctx, res, r.def, objectKeyOf(r.def, r.namespace, r.name), 200, result, preview, warnings);
}

export async function replace(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: WriteRoute & { name: string }, q: URLSearchParams): Promise<void> {
  const p = writeParams(q, req.headers['user-agent']);
  const target = targetOf(r.def);
  const s = subjectOf(r.def, r.name);
  const { body, duplicates } = await readObject(ctx, req);
  const rv = metadataOf(body).resourceVersion;
  if (rv === undefined || rv === '') throw fieldInvalid(s, 'metadata.resourceVersion', undefined, 'is required: must be specified for an update (GET the object and send back its resourceVersion)');
  await guarded(s, body, () =>
    ctx.locks.run(target.lockKey(r.name), async () => {
      const current = currentOrNotFound(ctx, r.def, objectKeyOf(r.def, r.namespace, r.name), s);
      await update(ctx, res, r, target, current, body, duplicates, p);
    }),
  );
}

/** The patched object may be no larger than a body this server accepts; the work is bounded at 16 times that. */
const patchLimits = (ctx: Ctx): PatchLimits => ({ maxResultBytes: ctx.limits.maxBodyBytes, maxWorkBytes: 16 * ctx.limits.maxBodyBytes });

export async function patch(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: WriteRoute & { name: string }, q: URLSearchParams): Promise<void> {
  const p = writeParams(q, req.headers['user-agent']);
  const target = targetOf(r.def);
  const s = subjectOf(r.def, r.name);
  const type = contentType(req);
  if (type === MediaType.ApplyPatch) return apply(ctx, req, res, r, p, target, s);
  if (type !== MediaType.MergePatch && type !== MediaType.JsonPatch) {
    throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format (${type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
  }
  const { value: doc, duplicates } = decode(await readBody(req, ctx.limits.maxBodyBytes), MediaType.Json);
  if (type === MediaType.MergePatch && !isRecord(doc)) throw badRequest('a merge patch must be a JSON object');
  await guarded(s, doc, () =>
    ctx.locks.run(target.lockKey(r.name), async () => {
      const current = currentOrNotFound(ctx, r.def, objectKeyOf(r.def, r.namespace, r.name), s);
      const next = type === MediaType.MergePatch ? mergePatch(current, doc) : jsonPatch(current, doc, patchLimits(ctx));
      if (!isRecord(next)) throw new InputError('', 'the patched object is not an object');
      await update(ctx, res, r, target, current, next, duplicates, p);
    }),
  );
}

/** Server-side apply: create or update with field ownership; conflicts answered as the API server words them. */
async function apply(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: WriteRoute & { name: string }, p: WriteParams, target: Target, s: Subject): Promise<void> {
  if (!p.managerGiven) {
    throw new StatusError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
      causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
    });
  }
  const { value: config, duplicates } = decode(await readBody(req, ctx.limits.maxBodyBytes), MediaType.Yaml);
  if (!isRecord(config)) throw badRequest('an apply patch must be an object with apiVersion, kind, metadata and spec');
  checkEnvelope(r.def, config);
  const metadata = metadataOf(config);
  if (metadata.name !== undefined && metadata.name !== r.name) throw badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${r.name})`);
  await guarded(s, config, () =>
    ctx.locks.run(target.lockKey(r.name), async () => {
      const key = objectKeyOf(r.def, r.namespace, r.name);
      const current = ctx.reader.get(r.def, key);
      const time = seconds(ctx.deps.now());
      let result;
      try {
        result = serverSideApply({
          live: current as unknown as Record<string, unknown> | undefined,
          config,
          entries: (current?.metadata.managedFields ?? []) as ManagedFieldsEntry[],
          manager: p.manager,
          apiVersion: groupVersion(r.def),
          time,
          force: p.force,
        });
      } catch (e) {
        if (!(e instanceof ApplyConflict)) throw e;
        throw new StatusError(409, 'Conflict', e.message, {
          name: r.name,
          group: r.def.group,
          kind: r.def.plural,
          causes: e.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field })),
        });
      }
      const next = { ...result.object, metadata: { ...(isRecord(result.object.metadata) ? result.object.metadata : {}), name: r.name } };
      if (current) return update(ctx, res, r, target, current, next, duplicates, p, result.managedFields);
      const prepared = prepare(ctx, target, r.name, next, duplicates, p);
      const meta = withFields(prepared.meta, result.managedFields);
      const defined = await target.define(ctx.deps.allocator, r.name, prepared.compiled, options(ctx, p, meta));
      const preview = prepared.compiled.preview(r.def, r.name, r.namespace, metadataOf(next));
      if (p.dryRun) return sendJson(res, 201, preview, merged(prepared.warnings, defined.warnings));
      await answer(ctx, res, r.def, key, 201, defined, preview, prepared.warnings);
    }),
  );
}

function deleteOptions(text: string): { dryRun: boolean; resourceVersion?: string; uid?: string } {
  if (text.trim() === '') return { dryRun: false };
  const { value } = decode(text, MediaType.Json);
  if (!isRecord(value)) throw badRequest('DeleteOptions must be an object');
  const dry = value.dryRun;
  if (dry !== undefined && !(Array.isArray(dry) && dry.every((d) => d === 'All'))) throw badRequest('dryRun: Unsupported value: supported values: "All"');
  const pre = isRecord(value.preconditions) ? value.preconditions : {};
  return {
    dryRun: Array.isArray(dry) && dry.length > 0,
    ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
    ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
  };
}

export async function remove(ctx: Ctx, req: IncomingMessage, res: ServerResponse, r: WriteRoute & { name: string }, q: URLSearchParams): Promise<void> {
  const p = writeParams(q, req.headers['user-agent']);
  const target = targetOf(r.def);
  const s = subjectOf(r.def, r.name);
  const opts = deleteOptions(await readBody(req, ctx.limits.maxBodyBytes));
  const dryRun = p.dryRun || opts.dryRun;
  const key = objectKeyOf(r.def, r.namespace, r.name);
  await guarded(s, undefined, () =>
    ctx.locks.run(target.lockKey(r.name), async () => {
      const current = currentOrNotFound(ctx, r.def, key, s);
      if (opts.resourceVersion !== undefined && opts.resourceVersion !== current.metadata.resourceVersion) {
        throw conflict(s, `Precondition failed: ResourceVersion in precondition: ${opts.resourceVersion}, ResourceVersion in object meta: ${String(current.metadata.resourceVersion)}`);
      }
      if (opts.uid !== undefined && opts.uid !== current.metadata.uid) {
        throw conflict(s, `Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${String(current.metadata.uid ?? '')}`);
      }
      const result = await target.remove(ctx.deps.allocator, r.name, { at: ctx.deps.now(), dryRun });
      if (dryRun) return sendJson(res, 200, current);
      await within(ctx.deps.model.waitFor(result.revision), ctx.limits.waitTimeoutMs, `the delete committed at revision ${result.revision}, but this server's view has not caught up yet`);
      sendJson(res, 200, withVersion(current, result.revision));
    }),
  );
}

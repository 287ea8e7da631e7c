// A Kubernetes API server DOUBLE for tests, because no real API server can run on this machine. It is not
// Kubernetes: it implements only what the controller and the owner resolver use — list and watch (?watch=true,
// resourceVersion, fieldSelector with = / == / != on dotted field paths) of a collection across namespaces, get one
// object, and merge-patching an object's status subresource with optimistic concurrency (a stale
// metadata.resourceVersion gets 409 Conflict); a watch from a compacted resourceVersion gets an ERROR event with
// status 410, as kube-apiserver sends it. Objects are put and removed by the test itself. Plural = lower-case kind +
// "s"; apiVersion "v1" lives under /api/v1.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export interface FakeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEntry {
  readonly rv: number;
  readonly collection: string;
  readonly type: WatchEventType;
  readonly object: FakeObject;
}

const basePath = (apiVersion: string) => (apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`);
const pluralOf = (kind: string) => `${kind.toLowerCase()}s`;
const clone = <T>(v: T): T => structuredClone(v);

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

type FieldFilter = (o: FakeObject) => boolean;

/** "spec.nodeName=n1,metadata.name!=x": every term must hold (an absent field reads as ""). */
function parseFieldSelector(sel: string): FieldFilter {
  const terms = sel.split(',').filter(Boolean).map((t) => {
    const m = /^([^!=]+)(==|!=|=)(.*)$/.exec(t);
    if (!m) throw new Error(`fake apiserver: bad fieldSelector term ${t}`);
    return { path: m[1]!.split('.'), negate: m[2] === '!=', value: m[3]! };
  });
  return (o) =>
    terms.every(({ path, negate, value }) => {
      let v: unknown = o;
      for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
      return ((v ?? '') === value) !== negate;
    });
}

export class FakeApiServer {
  private rv = 1;
  /** collection path -> "namespace/name" -> object. */
  private readonly objects = new Map<string, Map<string, FakeObject>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<{ collection: string; namespace?: string; fields: FieldFilter; res: ServerResponse }>();
  /** Successful status patches, by object path. */
  readonly statusPatches = new Map<string, number>();
  /** Status patches refused with 409, by object path. */
  readonly conflicts = new Map<string, number>();
  /** Every request, "METHOD path". */
  readonly requests: string[] = [];
  /** The next this-many status patches find the object changed just before they apply (a concurrent writer). */
  conflictNextPatches = 0;
  /** The next this-many requests (any) answer 500. */
  failNextRequests = 0;
  /** Watches from a resourceVersion below this get 410 Gone (see compact()). */
  private compactedRv = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeApiServer> {
    let fake!: FakeApiServer;
    const server = createServer((req, res) => fake.handle(req, res));
    fake = new FakeApiServer(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'test' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'test' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** A kubeconfig file for child processes. */
  kubeConfigFile(): string {
    const file = join(tmpdir(), `fake-kubeconfig-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, this.kubeConfig().exportConfig());
    return file;
  }

  /** Creates or replaces an object (spec, metadata; status kept unless given) and tells the watchers. */
  put(obj: FakeObject): FakeObject {
    const collection = `${basePath(obj.apiVersion)}/${pluralOf(obj.kind)}`;
    let m = this.objects.get(collection);
    if (!m) this.objects.set(collection, (m = new Map()));
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const old = m.get(key);
    const stored = clone(obj);
    stored.metadata.uid ??= old?.metadata.uid ?? `uid-${obj.metadata.name}-${this.rv}`;
    if (stored.status === undefined && old?.status !== undefined) stored.status = old.status;
    this.store(collection, key, stored, old ? 'MODIFIED' : 'ADDED');
    return clone(stored);
  }

  remove(apiVersion: string, kind: string, name: string, namespace?: string): void {
    const collection = `${basePath(apiVersion)}/${pluralOf(kind)}`;
    const key = `${namespace ?? ''}/${name}`;
    const old = this.objects.get(collection)?.get(key);
    if (!old) throw new Error(`fake apiserver: no ${kind} ${key}`);
    this.objects.get(collection)!.delete(key);
    const object = { ...clone(old), metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ rv: this.rv, collection, type: 'DELETED', object });
  }

  get(apiVersion: string, kind: string, name: string, namespace?: string): FakeObject | undefined {
    const o = this.objects.get(`${basePath(apiVersion)}/${pluralOf(kind)}`)?.get(`${namespace ?? ''}/${name}`);
    return o ? clone(o) : undefined;
  }

  /** Forgets history up to now, as etcd compaction does: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
  }

  /** Open watches, by collection path. */
  watchCount(collection: string): number {
    return [...this.watchers].filter((w) => w.collection === collection).length;
  }

  /** Ends every open watch (the informers must reconnect and carry on). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private store(collection: string, key: string, obj: FakeObject, type: WatchEventType): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.get(collection)!.set(key, obj);
    this.emit({ rv: this.rv, collection, type, object: clone(obj) });
  }

  private emit(e: HistoryEntry): void {
    this.history.push(e);
    for (const w of this.watchers) {
      if (w.collection === e.collection && (w.namespace === undefined || w.namespace === e.object.metadata.namespace) && w.fields(e.object)) {
        w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
  }

  /** Splits a path into collection, namespace, name and subresource. */
  private route(path: string): { collection: string; namespace?: string; name?: string; sub?: string } | undefined {
    const parts = path.split('/').filter(Boolean);
    let base: string[];
    if (parts[0] === 'api' && parts[1] === 'v1') base = parts.splice(0, 2);
    else if (parts[0] === 'apis' && parts.length >= 3) base = parts.splice(0, 3);
    else return undefined;
    let namespace: string | undefined;
    if ((parts[0] as string | undefined) === 'namespaces' && parts.length >= 3) {
      namespace = parts[1];
      parts.splice(0, 2);
    }
    const [plural, name, sub] = parts;
    if (!plural) return undefined;
    return { collection: `/${base.join('/')}/${plural}`, ...(namespace !== undefined ? { namespace } : {}), ...(name ? { name } : {}), ...(sub ? { sub } : {}) };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(`${req.method} ${url.pathname}`);
    const r = this.route(url.pathname);
    if (!r) return this.status(res, 404, 'NotFound', `no route ${url.pathname}`);
    if (this.failNextRequests > 0) {
      this.failNextRequests--;
      return this.status(res, 500, 'InternalError', 'injected failure');
    }
    const all = this.objects.get(r.collection) ?? new Map<string, FakeObject>();
    if (req.method === 'GET' && r.name === undefined) {
      const fields = parseFieldSelector(url.searchParams.get('fieldSelector') ?? '');
      const items = [...all.values()].filter((o) => (r.namespace === undefined || o.metadata.namespace === r.namespace) && fields(o));
      if (url.searchParams.get('watch') === 'true') return this.watch(res, r.collection, r.namespace, Number(url.searchParams.get('resourceVersion') || '0'), fields);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(this.rv) }, items }));
      return;
    }
    const key = `${r.namespace ?? ''}/${r.name}`;
    const obj = all.get(key);
    if (req.method === 'GET' && r.sub === undefined) {
      if (!obj) return this.status(res, 404, 'NotFound', `${r.collection} ${key} not found`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
      return;
    }
    if (req.method === 'PATCH' && r.sub === 'status') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => this.patchStatus(res, req.headers['content-type'] ?? '', r.collection, key, obj, body));
      return;
    }
    this.status(res, 405, 'MethodNotAllowed', `${req.method} ${url.pathname} is not implemented by this double`);
  }

  private patchStatus(res: ServerResponse, contentType: string, collection: string, key: string, obj: FakeObject | undefined, body: string): void {
    const path = `${collection}/${key}`;
    if (!contentType.startsWith('application/merge-patch+json')) return this.status(res, 415, 'UnsupportedMediaType', `content type ${contentType}`);
    if (!obj) return this.status(res, 404, 'NotFound', `${path} not found`);
    if (this.conflictNextPatches > 0) {
      this.conflictNextPatches--;
      obj = clone(obj);
      this.store(collection, key, obj, 'MODIFIED');
    }
    const patch = JSON.parse(body) as { metadata?: { resourceVersion?: string }; status?: unknown };
    const want = patch.metadata?.resourceVersion;
    if (want !== undefined && want !== obj.metadata.resourceVersion) {
      this.conflicts.set(path, (this.conflicts.get(path) ?? 0) + 1);
      return this.status(res, 409, 'Conflict', `the object has been modified; resourceVersion ${want} is not ${obj.metadata.resourceVersion}`);
    }
    const next = clone(obj);
    if ('status' in patch) next.status = mergePatch(obj.status, patch.status);
    this.statusPatches.set(path, (this.statusPatches.get(path) ?? 0) + 1);
    this.store(collection, key, next, 'MODIFIED');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(next));
  }

  private watch(res: ServerResponse, collection: string, namespace: string | undefined, after: number, fields: FieldFilter): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // as kube-apiserver does: a watch client sees the 200 before any event
    if (after > 0 && after < this.compactedRv) {
      const gone = { apiVersion: 'v1', kind: 'Status', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${after} (${this.compactedRv})` };
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    for (const e of this.history) {
      if (e.rv > after && e.collection === collection && (namespace === undefined || e.object.metadata.namespace === namespace) && fields(e.object)) {
        res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const w = { collection, ...(namespace !== undefined ? { namespace } : {}), fields, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Failure', reason, message, code }));
  }
}

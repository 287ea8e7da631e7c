// `ipam apply -f FILE`: SpiderSubnet, SpiderIPPool, SpiderReservedIP and Whereabouts IPPool manifests, applied
// straight to etcd or through a daemon's Kubernetes-style API. Re-applying an unchanged manifest writes nothing.
import { isDeepStrictEqual } from 'node:util';
import type { Allocator, ConfigOptions } from '../../alloc/allocator.js';
import { replay } from '../../../projections/runtime.js';
import { compilePool, compileSubnet } from '../../alloc/spec.js';
import { configMetadataProjection, type ConfigMetadataState } from '../../k8s/config-metadata.js';
import { poolSpecFromIPPool } from '../../upstream/whereabouts/pools.js';
import { parseIpList } from '../../net/ranges.js';
import { daemonClient, openDirectAllocator, wantsDirect, type GlobalOptions } from '../connection.js';
import { DaemonError, type DaemonClient } from '../daemon-client.js';
import { RESOURCES, readManifests, type Manifest } from '../manifests.js';

export interface ApplyOptions {
  readonly file: string;
  readonly dryRun: boolean;
  readonly validate: 'strict' | 'warn' | 'ignore';
}

type Outcome = 'created' | 'configured' | 'unchanged';

const label = (m: Manifest) => `${m.kind.toLowerCase()}.${RESOURCES[m.kind].group}/${m.name}`;

function sameMeta(a: ConfigOptions['metadata'] | undefined, b: ConfigOptions['metadata'] | undefined): boolean {
  const norm = (x: ConfigOptions['metadata'] | undefined) => ({ labels: x?.labels ?? {}, annotations: x?.annotations ?? {} });
  return isDeepStrictEqual(norm(a), norm(b));
}

/** Applies one manifest with an in-process allocator; returns what happened and any warnings. */
async function applyDirect(a: Allocator, m: Manifest, o: ApplyOptions, meta: Map<string, ConfigOptions['metadata']>): Promise<{ outcome: Outcome; warnings: readonly string[] }> {
  const opts: ConfigOptions = { at: new Date().toISOString(), strict: o.validate === 'strict', dryRun: o.dryRun, metadata: m.metadata };
  const key = `${m.kind}/${m.name}`;
  switch (m.kind) {
    case 'SpiderSubnet': {
      const current = a.model.subnets.get(m.name);
      if (!current) return { outcome: 'created', warnings: (await a.defineSubnet(m.name, m.spec, opts)).warnings };
      if (isDeepStrictEqual(compileSubnet(m.name, m.spec).subnet.spec, current.spec) && sameMeta(meta.get(key), m.metadata)) return { outcome: 'unchanged', warnings: [] };
      return { outcome: 'configured', warnings: (await a.changeSubnet(m.name, m.spec, opts)).warnings };
    }
    case 'SpiderIPPool':
    case 'IPPool': {
      const spec = m.kind === 'IPPool' ? poolSpecFromIPPool(m.spec, 'spec') : m.spec;
      const current = a.model.pools.get(m.name);
      if (!current) return { outcome: 'created', warnings: (await a.definePool(m.name, spec, opts)).warnings };
      if (isDeepStrictEqual(compilePool(m.name, spec).pool.spec, current.compiled.spec) && sameMeta(meta.get(key), m.metadata)) return { outcome: 'unchanged', warnings: [] };
      return { outcome: 'configured', warnings: (await a.changePool(m.name, spec, opts)).warnings };
    }
    case 'SpiderReservedIP': {
      const current = a.model.reservations.get(m.name);
      if (current) {
        const wanted = parseIpList(m.spec.ips as string[], current.ipVersion, 'spec.ips').toStrings(current.ipVersion);
        if (m.spec.ipVersion === current.ipVersion && isDeepStrictEqual(wanted, [...current.ips])) return { outcome: 'unchanged', warnings: [] };
        if (!o.dryRun) await a.unreserve(m.name, opts); // reservations are replaced whole
      }
      await a.reserve(m.name, m.spec.ipVersion, m.spec.ips, opts);
      return { outcome: current ? 'configured' : 'created', warnings: [] };
    }
  }
}

/** The labels and annotations last recorded for each pool and subnet (so a label change alone is applied). */
async function recordedMetadata(a: Allocator): Promise<Map<string, ConfigOptions['metadata']>> {
  const st = (await replay(a.store, [configMetadataProjection], { until: a.revision })).states.get(configMetadataProjection.name) as ConfigMetadataState;
  const out = new Map<string, ConfigOptions['metadata']>();
  for (const [name, m] of Object.entries(st.pools)) for (const k of ['SpiderIPPool', 'IPPool']) out.set(`${k}/${name}`, m);
  for (const [name, m] of Object.entries(st.subnets)) out.set(`SpiderSubnet/${name}`, m);
  return out;
}

/** Through the daemon: create, or replace what exists (Kubernetes semantics, so kubectl and this agree). */
async function applyViaDaemon(c: DaemonClient, m: Manifest, o: ApplyOptions): Promise<{ outcome: Outcome; warnings: readonly string[] }> {
  const r = RESOURCES[m.kind];
  const base = `/apis/${r.group}/${r.version}${r.namespaced ? `/namespaces/${encodeURIComponent(m.namespace!)}` : ''}/${r.plural}`;
  const q = `?fieldValidation=${o.validate === 'strict' ? 'Strict' : o.validate === 'warn' ? 'Warn' : 'Ignore'}${o.dryRun ? '&dryRun=All' : ''}`;
  const warningsOf = (h: Record<string, string | string[] | undefined>) => ([] as string[]).concat(h.warning ?? []);
  try {
    const created = await c.send('POST', `${base}${q}`, m.object);
    return { outcome: 'created', warnings: warningsOf(created.headers) };
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 409) throw e;
  }
  const current = await c.send<{ metadata: { resourceVersion?: string; labels?: unknown; annotations?: unknown }; spec: unknown }>('GET', `${base}/${encodeURIComponent(m.name)}`);
  const cur = current.body;
  if (isDeepStrictEqual(cur.spec, m.spec) && isDeepStrictEqual(cur.metadata.labels ?? {}, m.metadata.labels ?? {}) && isDeepStrictEqual(cur.metadata.annotations ?? {}, m.metadata.annotations ?? {})) {
    return { outcome: 'unchanged', warnings: [] };
  }
  const body = { ...m.object, metadata: { ...(m.object.metadata as object), resourceVersion: cur.metadata.resourceVersion } };
  const replaced = await c.send('PUT', `${base}/${encodeURIComponent(m.name)}${q}`, body);
  return { outcome: 'configured', warnings: warningsOf(replaced.headers) };
}

export async function apply(g: GlobalOptions, o: ApplyOptions): Promise<void> {
  const manifests = readManifests(o.file);
  const suffix = o.dryRun ? ' (dry run)' : '';
  const report = (m: Manifest, r: { outcome: Outcome; warnings: readonly string[] }) => {
    for (const w of r.warnings) process.stderr.write(`Warning: ${m.source}: ${w}\n`);
    process.stdout.write(`${label(m)} ${r.outcome}${suffix}\n`);
  };
  if (wantsDirect(g)) {
    const d = await openDirectAllocator(g);
    try {
      const meta = await recordedMetadata(d.allocator);
      for (const m of manifests) report(m, await applyDirect(d.allocator, m, o, meta));
    } finally {
      await d.close();
    }
    return;
  }
  const c = daemonClient(g);
  for (const m of manifests) report(m, await applyViaDaemon(c, m, o));
}

// Every manifest in deploy/k8s parses; samples and objects rendered by the real projections (from a real
// allocator's log) validate against the CRDs' OpenAPI schemas.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { readModelOf, replay } from '../projections/runtime.js';
import { AT, endpoint, openAllocator } from './helpers/alloc.js';

const ROOT = new URL('../../deploy/k8s/', import.meta.url).pathname;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : f.endsWith('.yaml') ? [p] : [];
  });
}

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> };

function load(): Map<string, Doc[]> {
  const out = new Map<string, Doc[]>();
  for (const f of yamlFiles(ROOT)) {
    const docs = parseAllDocuments(readFileSync(f, 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0]!.message}`);
      return d.toJS() as Doc;
    });
    out.set(f.slice(ROOT.length), docs.filter((d) => d !== null));
  }
  return out;
}

/** Validators by "apiVersion kind", from the CRDs. */
function validators(files: Map<string, Doc[]>): Map<string, ValidateFunction> {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const out = new Map<string, ValidateFunction>();
  for (const d of [...files.values()].flat()) {
    if (d.kind !== 'CustomResourceDefinition') continue;
    const spec = d.spec as { group: string; names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: object } }[] };
    for (const v of spec.versions) out.set(`${spec.group}/${v.name} ${spec.names.kind}`, ajv.compile(v.schema.openAPIV3Schema));
  }
  return out;
}

test('every manifest parses and names its apiVersion, kind and name', (t) => {
  const files = load();
  t.true(files.size >= 8, [...files.keys()].join(', '));
  for (const [f, docs] of files) {
    t.true(docs.length > 0, f);
    for (const d of docs) t.truthy(d.apiVersion && d.kind && d.metadata?.name, `${f}: ${JSON.stringify(d).slice(0, 80)}`);
  }
  const kinds = new Set([...files.values()].flat().map((d) => d.kind));
  for (const k of ['CustomResourceDefinition', 'DaemonSet', 'Deployment', 'APIService', 'ClusterRole', 'Secret', 'Service']) t.true(kinds.has(k), k);
  t.is(validators(files).size, 5);
});

test('the Spiderpool CRDs are upstream\'s chart CRDs, byte for byte', (t) => {
  const upstream = new URL('../../test/fixtures/upstream/spidernet-io/spiderpool/charts/spiderpool/crds/', import.meta.url).pathname;
  const names = readdirSync(upstream).sort();
  t.deepEqual(names, ['spiderpool.spidernet.io_spiderendpoints.yaml', 'spiderpool.spidernet.io_spiderippools.yaml', 'spiderpool.spidernet.io_spiderreservedips.yaml', 'spiderpool.spidernet.io_spidersubnets.yaml']);
  for (const n of names) t.is(readFileSync(join(ROOT, 'crds', n), 'utf8'), readFileSync(join(upstream, n), 'utf8'), n);
});

test('the samples validate against the CRDs, and a wrong one is refused naming the field', (t) => {
  const files = load();
  const v = validators(files);
  const samples = files.get('samples/samples.yaml')!;
  t.is(samples.length, 5);
  for (const s of samples) {
    const check = v.get(`${s.apiVersion} ${s.kind}`);
    t.truthy(check, `${s.apiVersion} ${s.kind} has a CRD`);
    t.true(check!(s), `${s.kind} ${s.metadata.name}: ${JSON.stringify(check!.errors)}`);
  }
  const pool = structuredClone(samples.find((s) => s.kind === 'SpiderIPPool')!);
  pool.spec!.ipVersion = 5;
  const check = v.get('spiderpool.spidernet.io/v2beta1 SpiderIPPool')!;
  t.false(check(pool));
  t.is(check.errors![0]!.instancePath, '/spec/ipVersion');
});

test('objects the projections render from a real allocator log validate against the CRDs', async (t) => {
  const v = validators(load());
  const f = await openAllocator();
  t.teardown(() => f.close());
  const a = f.allocator;
  await a.defineSubnet('s4', { ipVersion: 4, subnet: '10.20.0.0/24', ips: ['10.20.0.2-10.20.0.200'], gateway: '10.20.0.1' }, { at: AT });
  await a.definePool('v4', { ipVersion: 4, subnet: '10.20.0.0/24', ips: ['10.20.0.10-10.20.0.50'], gateway: '10.20.0.1', vlan: 20, routes: [{ dst: '10.30.0.0/16', gw: '10.20.0.1' }] }, { at: AT, metadata: { labels: { a: 'b' } } });
  await a.definePool('v6', { ipVersion: 6, subnet: 'fd00:20::/64', ips: ['fd00:20::10-fd00:20::50'], gateway: 'fd00:20::1' }, { at: AT });
  await a.reserve('r', 4, ['10.20.0.11'], { at: AT });
  const kept = await a.allocate({ endpoint: endpoint('web-0', { owner: { kind: 'StatefulSet', name: 'web' } }), pools: { ipv4: ['v4'], ipv6: ['v6'] }, at: AT });
  await a.allocate({ endpoint: endpoint('web-0', { nic: 'net1', owner: { kind: 'StatefulSet', name: 'web' } }), pools: { ipv4: ['v4'] }, at: AT });
  const gone = await a.allocate({ endpoint: endpoint('tmp'), pools: { ipv4: ['v4'] }, at: AT });
  await a.releaseById(gone.allocations[0]!.allocationId, 'cni-del', AT);
  t.is(kept.allocations.length, 2);
  const rm = readModelOf(await replay(f.store, ALL_PROJECTIONS));
  const checked: string[] = [];
  for (const p of ['spider-subnet', 'spider-ippool', 'spider-endpoints', 'whereabouts-ippool']) {
    for (const o of rm.list(p)) {
      const check = v.get(`${o.apiVersion} ${o.kind}`);
      t.truthy(check, `${o.apiVersion} ${o.kind} has a CRD`);
      t.true(check!(o), `${o.kind} ${o.metadata.name}: ${JSON.stringify(check!.errors)}`);
      checked.push(`${o.kind}/${o.metadata.name}`);
    }
  }
  t.deepEqual(checked.sort(), ['IPPool/v4', 'IPPool/v6', 'SpiderEndpoint/web-0', 'SpiderIPPool/v4', 'SpiderIPPool/v6', 'SpiderSubnet/s4']);
});

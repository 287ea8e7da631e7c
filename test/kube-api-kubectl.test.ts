// kubectl (/usr/bin/kubectl, a client no one here wrote) against the Kubernetes-style API: get (tables from the
// CRDs' printer columns, short names), get -o yaml, apply -f of a SpiderIPPool manifest twice (create, then change),
// apply of a manifest with an unknown field (kubectl asks for fieldValidation=Strict), delete.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { request } from './helpers/alloc.js';
import { KUBE_TOKEN, kubeconfigFile, startKubeServer, type KubeServer } from './helpers/kube-server.js';
import { httpsText } from './helpers/tls.js';

const KUBECTL = '/usr/bin/kubectl';

let s: KubeServer;
let kc: Awaited<ReturnType<typeof kubeconfigFile>>;
test.before(async () => {
  s = await startKubeServer({}, { tls: true });
  kc = await kubeconfigFile(s.url, s.ca);
});
test.after.always(async () => {
  await kc?.cleanup();
  await s?.close();
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs kubectl asynchronously (the server answers from this same process). */
function kubectl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL,
      ['--kubeconfig', kc.path, '--cache-dir', join(kc.dir, 'cache'), '--request-timeout', '20s', ...args],
      { encoding: 'utf8', env: { ...process.env, HOME: kc.dir }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const manifest = (ips: string, extra = '') =>
  ['apiVersion: spiderpool.spidernet.io/v2beta1', 'kind: SpiderIPPool', 'metadata:', '  name: kc-a', 'spec:', '  ipVersion: 4', '  subnet: 10.50.0.0/16', `  ips: ["${ips}"]`, '  gateway: 10.50.0.1', extra, ''].join('\n');

test.serial('get, apply -f twice, get -o yaml, delete', async (t) => {
  const empty = await kubectl('get', 'spiderippools');
  t.is(empty.code, 0, empty.stderr);
  t.regex(empty.stderr, /No resources found/);

  const file = join(kc.dir, 'pool.yaml');
  await writeFile(file, manifest('10.50.0.10-10.50.0.19'));
  const first = await kubectl('apply', '-f', file);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout.trim(), 'spiderippool.spiderpool.spidernet.io/kc-a created');

  const table = await kubectl('get', 'sp');
  t.is(table.code, 0, table.stderr);
  const [header, row] = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  t.deepEqual(header, ['NAME', 'VERSION', 'SUBNET', 'ALLOCATED-IP-COUNT', 'TOTAL-IP-COUNT', 'DEFAULT']);
  t.deepEqual(row, ['kc-a', '4', '10.50.0.0/16', '0', '10']);

  await writeFile(file, manifest('10.50.0.10-10.50.0.29'));
  const before = await s.fx.store.headRevision();
  const second = await kubectl('apply', '-f', file);
  t.is(second.code, 0, second.stderr);
  t.is(second.stdout.trim(), 'spiderippool.spiderpool.spidernet.io/kc-a configured');
  t.true((await s.fx.store.headRevision()) > before, 'the change became an event');

  await s.fx.allocator.allocate(request('kc-pod', { pools: { ipv4: ['kc-a'] } }));
  const yaml = await kubectl('get', 'spiderippool', 'kc-a', '-o', 'yaml');
  t.is(yaml.code, 0, yaml.stderr);
  const o = parse(yaml.stdout) as { apiVersion: string; kind: string; metadata: { name: string; resourceVersion: string }; spec: { ips: string[]; gateway: string }; status: { totalIPCount: number; allocatedIPCount: number; allocatedIPs: string } };
  t.is(o.apiVersion, 'spiderpool.spidernet.io/v2beta1');
  t.is(o.kind, 'SpiderIPPool');
  t.deepEqual(o.spec.ips, ['10.50.0.10-10.50.0.29']);
  t.is(o.spec.gateway, '10.50.0.1');
  t.is(o.status.totalIPCount, 20);
  t.is(o.status.allocatedIPCount, 1);
  t.deepEqual(Object.values(JSON.parse(o.status.allocatedIPs) as Record<string, { pod: string }>).map((a) => a.pod), ['default/kc-pod'], 'v2beta1: a JSON string');
  t.regex(o.metadata.resourceVersion, /^[1-9][0-9]*$/);

  const eps = await kubectl('get', 'se', '-A');
  t.is(eps.code, 0, eps.stderr);
  t.regex(eps.stdout, /^NAMESPACE\s+NAME\s+INTERFACE\s+IPV4POOL\s+IPV4\s+IPV6POOL\s+IPV6\s+NODE/);
  t.regex(eps.stdout, /default\s+kc-pod\s+eth0\s+kc-a\s+10\.50\.0\.\d+\/16/);

  const refused = await kubectl('delete', 'spiderippool', 'kc-a');
  t.not(refused.code, 0);
  t.regex(refused.stderr, /still holds 1 allocation/);
  await s.fx.allocator.releasePod('default', 'kc-pod', undefined, 'admin', new Date().toISOString());
  const deleted = await kubectl('delete', 'spiderippool', 'kc-a');
  t.is(deleted.code, 0, deleted.stderr);
  t.is(deleted.stdout.trim(), 'spiderippool.spiderpool.spidernet.io "kc-a" deleted');
  const gone = await kubectl('get', 'spiderippool', 'kc-a');
  t.not(gone.code, 0);
  t.regex(gone.stderr, /NotFound.*"kc-a" not found/);
});

test.serial('apply of a manifest with an unknown field fails under kubectl\'s default strict validation, writing nothing', async (t) => {
  const file = join(kc.dir, 'bad.yaml');
  await writeFile(file, manifest('10.50.0.10-10.50.0.19', '  colour: blue'));
  const before = await s.fx.store.headRevision();
  const r = await kubectl('apply', '-f', file);
  t.not(r.code, 0);
  t.regex(r.stderr, /unknown field "spec.colour"/);
  t.is(await s.fx.store.headRevision(), before);
  const lax = await kubectl('apply', '--validate=warn', '-f', file);
  t.is(lax.code, 0, lax.stderr);
  t.regex(lax.stderr, /Warning: unknown field "spec.colour"/);
});

test.serial('discovery and OpenAPI from the CRD files: api-resources exits 0, explain lists the CRD fields, AGE from creationTimestamp, /openapi/v2 as JSON (406 for protobuf only)', async (t) => {
  const resources = await kubectl('api-resources');
  t.is(resources.code, 0, resources.stderr);
  t.regex(resources.stdout, /spiderippools\s+sp\s+spiderpool\.spidernet\.io\/v2beta1\s+false\s+SpiderIPPool/);
  const explain = await kubectl('explain', 'spiderippool.spec');
  t.is(explain.code, 0, explain.stderr);
  for (const field of ['ips', 'subnet', 'gateway', 'excludeIPs', 'routes']) t.regex(explain.stdout, new RegExp(`^\\s+${field}\\s+<`, 'm'), field);
  const sr = await kubectl('explain', 'spiderreservedip.spec.ips');
  t.is(sr.code, 0, sr.stderr);
  t.regex(sr.stdout, /ips\s+<\[\]string>/);

  const file = join(kc.dir, 'wb.yaml');
  await writeFile(file, 'apiVersion: whereabouts.cni.cncf.io/v1alpha1\nkind: IPPool\nmetadata: {name: kc-age, namespace: kube-system}\nspec: {range: 10.51.0.0/24, allocations: {}}\n');
  const applied = await kubectl('apply', '-f', file);
  t.is(applied.code, 0, applied.stderr);
  // Whereabouts' CRD declares no printer columns: the API server's default is NAME and AGE.
  const table = await kubectl('get', 'ippools.whereabouts.cni.cncf.io', '-n', 'kube-system');
  t.is(table.code, 0, table.stderr);
  const [header, ...rows] = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  t.deepEqual(header, ['NAME', 'AGE']);
  const row = rows.find((r) => r[0] === 'kc-age');
  t.regex(row![1]!, /^\d+s$/);
  const sorted = await kubectl('get', 'ippools.whereabouts.cni.cncf.io', '-n', 'kube-system', '--sort-by=.metadata.creationTimestamp', '-o', 'name');
  t.is(sorted.code, 0, sorted.stderr);
  t.is(sorted.stdout.trim().split('\n').at(-1), 'ippool.whereabouts.cni.cncf.io/kc-age', 'the newest last');
  t.is((await kubectl('delete', '-f', file)).code, 0);

  const headers = { authorization: `Bearer ${KUBE_TOKEN}` };
  const v2 = await httpsText(`${s.url}/openapi/v2`, { ca: s.ca!, headers: { ...headers, accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json' } });
  t.is(v2.status, 200);
  const doc = JSON.parse(v2.text) as { swagger: string; definitions: Record<string, { properties?: Record<string, unknown> }> };
  t.is(doc.swagger, '2.0');
  t.truthy(doc.definitions['io.spidernet.spiderpool.v2beta1.SpiderIPPool']?.properties?.spec);
  const pb = await httpsText(`${s.url}/openapi/v2`, { ca: s.ca!, headers: { ...headers, accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } });
  t.is(pb.status, 406);
});

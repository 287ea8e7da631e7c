// Schemas and printer columns come from CRD files: upstream's chart CRDs (verbatim fixtures) load the same way as
// deploy/k8s/crds, with their additionalPrinterColumns (JSONPaths with escaped keys included) and the API server's
// default Age column for a version that declares none.
import test from 'ava';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crdKey, loadCrds } from '../src/api/kube/crds.js';
import { humanDuration, valueAt } from '../src/api/kube/table.js';

const UPSTREAM = new URL('../../test/fixtures/upstream/spidernet-io/spiderpool/charts/spiderpool/crds/', import.meta.url).pathname;

test("upstream's chart CRDs: SpiderIPPool's columns as declared, its schema's spec fields; the APP-NAMESPACE path reads an escaped label key", (t) => {
  const crds = loadCrds(UPSTREAM);
  const sp = crds.get(crdKey('spiderpool.spidernet.io', 'v2beta1', 'SpiderIPPool'))!;
  t.deepEqual(sp.columns.map((c) => c.name), ['VERSION', 'SUBNET', 'ALLOCATED-IP-COUNT', 'TOTAL-IP-COUNT', 'DEFAULT', 'DISABLE', 'NodeName', 'MultusName', 'APP-NAMESPACE']);
  t.is(sp.columns.find((c) => c.name === 'DISABLE')!.priority, 10);
  const spec = (sp.schema as { properties: { spec: { properties: Record<string, unknown> } } }).properties.spec.properties;
  for (const f of ['ipVersion', 'subnet', 'ips', 'excludeIPs', 'gateway', 'routes', 'podAffinity']) t.truthy(spec[f], f);
  const app = sp.columns.find((c) => c.name === 'APP-NAMESPACE')!;
  t.is(valueAt({ spec: { podAffinity: { matchLabels: { 'ipam.spidernet.io/app-namespace': 'shop' } } } }, app.jsonPath), 'shop');
  t.truthy(crds.get(crdKey('spiderpool.spidernet.io', 'v2beta1', 'SpiderReservedIP')));
});

test('a CRD version without additionalPrinterColumns gets the default Age column; ages print as the API server prints them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'crds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'x.yaml'), 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: xs.example.io}\nspec:\n  group: example.io\n  names: {kind: X, plural: xs}\n  scope: Cluster\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object}}\n');
  const x = loadCrds(dir).get(crdKey('example.io', 'v1', 'X'))!;
  t.deepEqual(x.columns.map((c) => [c.name, c.type, c.jsonPath]), [['Age', 'date', '.metadata.creationTimestamp']]);
  t.is(humanDuration(5_000), '5s');
  t.is(humanDuration(150_000), '2m30s');
  t.is(humanDuration(3 * 3600_000 + 60_000), '3h1m');
  t.is(humanDuration(3 * 86_400_000), '3d');
  t.is(humanDuration(-5000), '<invalid>');
});

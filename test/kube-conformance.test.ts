// Conformance with upstream material: Spiderpool's own samples (docs/example, copied verbatim under
// test/fixtures/upstream/spidernet-io/spiderpool with SOURCE.md) applied with Debian's kubectl over TLS (the
// kubeconfig `ipam kubeconfig` prints: CA data + token) to a real daemon on real etcd, and through
// @kubernetes/client-node with the CA. Per sample: client-side apply, diff (no drift), server-side apply,
// --dry-run=server, delete. On one object: explain, wait, label/annotate, edit (KUBE_EDITOR script), server-side
// apply conflicts and --force-conflicts.
//
// Every Spiderpool document of the copied pages (docs/example, docs/usage, docs/reference; the same set
// test/upstream-spiderpool-samples drives through `ipam apply`) applies, or is refused exactly where Spiderpool's own
// webhook or CRD schema refuses it (UPSTREAM_REFUSED, each with the upstream rule), naming the same field.
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import test from 'ava';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { kubeconfigDocument } from '../src/cli/commands/kubeconfig.js';
import { startDaemon, TOKEN, type DaemonFixture } from './helpers/daemon.js';
import { samplesOf, UPSTREAM_REFUSED } from './helpers/upstream-samples.js';
import { kubectlIn, type KubectlRun } from './helpers/kubectl.js';

const ROOT = new URL('../../test/fixtures/upstream/spidernet-io/spiderpool/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [relative(ROOT, join(dir, f))]));
}
const KINDS = new Set(['SpiderIPPool', 'SpiderSubnet', 'SpiderReservedIP']);
/** Every Spiderpool document of the copied pages and files, grouped by file (each page starts from a clean cluster). */
const FILES = files(join(ROOT, 'docs'))
  .filter((f) => /\.(ya?ml|md)$/.test(f))
  .sort()
  .map((file) => ({ file, samples: samplesOf(file, ROOT, KINDS).filter((x) => !x.templated) }))
  .filter((x) => x.samples.length > 0);

let f: DaemonFixture;
let dir: string;
let kubeconfig: string;
let kubectl: (...args: string[]) => Promise<KubectlRun>;

test.before(async () => {
  f = await startDaemon();
  dir = mkdtempSync(join(tmpdir(), 'ipam-conformance-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, stringify(kubeconfigDocument({ server: `https://127.0.0.1:${f.port}`, ca: f.ca, token: TOKEN, name: 'ipam-es' })), { mode: 0o600 });
  kubectl = kubectlIn(dir, kubeconfig);
});
test.after.always(async () => {
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ok = (t: { is(a: unknown, b: unknown, m?: string): void; notRegex(s: string, r: RegExp, m?: string): void }, r: KubectlRun, what: string) => {
  t.is(r.code, 0, `${what}: ${r.stderr}`);
  t.notRegex(r.stderr, /error|must be logged in/i, what);
};

test.serial('every upstream sample applies verbatim with kubectl (client-side, diff, server-side, dry-run=server, delete), or is refused where Spiderpool refuses it', async (t) => {
  let applied = 0;
  let refused = 0;
  for (const { file, samples } of FILES) {
    const made: string[] = [];
    for (const sample of samples) {
      // The document exactly as the page holds it (pages mix in Deployments and shell; this server serves only these kinds).
      const doc = join(dir, 'sample.yaml');
      writeFileSync(doc, sample.text);
      const expected = UPSTREAM_REFUSED[sample.where];
      const r = await kubectl('apply', '-f', doc);
      if (expected) {
        t.not(r.code, 0, `${sample.where} applied but Spiderpool refuses it`);
        t.regex(r.stderr, new RegExp(expected.field.split('.').pop()!), `${sample.where}: refused naming ${expected.field}:\n${r.stderr}`);
        t.notRegex(r.stderr, /must be logged in|certificate|openapi/i, sample.where);
        refused++;
        continue;
      }
      ok(t, r, `${sample.where} apply`);
      ok(t, await kubectl('diff', '-f', doc), `${sample.where} diff (no drift)`);
      ok(t, await kubectl('apply', '--server-side', '--force-conflicts', '-f', doc), `${sample.where} apply --server-side`);
      ok(t, await kubectl('apply', '--dry-run=server', '-f', doc), `${sample.where} apply --dry-run=server`);
      made.push(`${sample.kind.toLowerCase()}.spiderpool.spidernet.io/${sample.name}`);
      applied++;
    }
    // Pools before subnets: a subnet with pools carved from it is not deleted.
    for (const o of [...new Set(made)].reverse()) ok(t, await kubectl('delete', o), `${file}: delete ${o}`);
  }
  t.log(`${applied} upstream documents applied through kubectl, ${refused} refused as Spiderpool refuses them`);
  t.true(applied >= 40, `${applied} applied`);
});

test.serial('@kubernetes/client-node over TLS with the CA: create, read, list and delete each sample that applies', async (t) => {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  t.falsy(kc.getCurrentCluster()?.skipTLSVerify);
  const api = KubernetesObjectApi.makeApiClient(kc);
  let done = 0;
  for (const { samples } of FILES) {
    const made: KubernetesObject[] = [];
    for (const sample of samples) {
      if (UPSTREAM_REFUSED[sample.where]) continue;
      const d = parse(sample.text) as KubernetesObject & { metadata: { name: string } };
      const ref = { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: sample.kind, metadata: { name: sample.name } };
      // A page may show the same object twice (as kubectl apply would update it): replace rather than create again.
      const existing = await api.read(ref).catch(() => undefined);
      const created = existing ? await api.replace({ ...d, metadata: { ...d.metadata, resourceVersion: existing.metadata?.resourceVersion } }) : await api.create(d);
      t.is(created.metadata?.name, sample.name);
      t.regex(String(created.metadata?.uid), /^[0-9a-f-]{36}$/);
      const read = await api.read(ref);
      t.is(read.metadata?.uid, created.metadata?.uid);
      if (!existing) made.push(ref);
      done++;
    }
    for (const ref of made.reverse()) await api.delete(ref);
  }
  const list = await api.list('spiderpool.spidernet.io/v2beta1', 'SpiderIPPool');
  t.is(list.items.length, 0, 'everything created was deleted');
  t.log(`${done} upstream documents through client-node`);
  t.true(done >= 40);
});

test.serial('one object through every kubectl verb: explain, wait, label, annotate, edit, server-side apply conflict and --force-conflicts, delete', async (t) => {
  // Upstream's custom-ipv4-ippool, verbatim (no ipVersion: the webhook rules infer it).
  const text = readFileSync(join(ROOT, 'docs/example/basic/custom-ipv4-ippool.yaml'), 'utf8');
  const file = join(dir, 'pool.yaml');
  writeFileSync(file, text);
  ok(t, await kubectl('apply', '-f', file), 'apply');
  const explain = await kubectl('explain', 'spiderippools.spec.ips');
  ok(t, explain, 'explain');
  t.regex(explain.stdout, /ips\s+<\[\]string>/);
  ok(t, await kubectl('wait', '--for=jsonpath={.status.totalIPCount}=11', 'spiderippool/custom-ipv4-ippool', '--timeout=20s'), 'wait');
  ok(t, await kubectl('label', 'sp', 'custom-ipv4-ippool', 'team=net'), 'label');
  ok(t, await kubectl('annotate', 'sp', 'custom-ipv4-ippool', 'note=conformance'), 'annotate');
  const editor = join(dir, 'editor.sh');
  writeFileSync(editor, '#!/bin/sh\nsed -i "s/172.18.41.40-172.18.41.50/172.18.41.40-172.18.41.55/" "$1"\n');
  chmodSync(editor, 0o755);
  const edit = await kubectlIn(dir, kubeconfig, { KUBE_EDITOR: editor })('edit', 'sp', 'custom-ipv4-ippool');
  ok(t, edit, 'edit');
  t.regex(edit.stdout, /edited/);
  const shown = await kubectl('get', 'sp', 'custom-ipv4-ippool', '-o', 'json', '--show-managed-fields');
  const after = JSON.parse(shown.stdout) as { metadata: { labels: Record<string, string>; annotations: Record<string, string>; generation: number; managedFields: { manager: string }[] }; spec: { ips: string[] }; status: { totalIPCount: number } };
  t.deepEqual(after.spec.ips, ['172.18.41.40-172.18.41.55']);
  t.is(after.metadata.labels.team, 'net');
  t.is(after.metadata.annotations.note, 'conformance');
  t.is(after.metadata.generation, 2, 'the edit changed the spec; label and annotate did not');
  t.deepEqual(after.metadata.managedFields.map((m) => m.manager).sort(), ['kubectl-annotate', 'kubectl-client-side-apply', 'kubectl-edit', 'kubectl-label']);

  // Server-side apply by another manager of a field kubectl-edit owns with another value: the API server's conflict.
  writeFileSync(file, text.replace('172.18.41.40-172.18.41.50', '172.18.41.40-172.18.41.45'));
  const conflict = await kubectl('apply', '--server-side', '--field-manager', 'flux', '-f', file);
  t.not(conflict.code, 0);
  t.regex(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl-edit" using spiderpool\.spidernet\.io\/v2beta1: \.spec\.ips/);
  ok(t, await kubectl('apply', '--server-side', '--field-manager', 'flux', '--force-conflicts', '-f', file), 'apply --force-conflicts');
  const forced = JSON.parse((await kubectl('get', 'sp', 'custom-ipv4-ippool', '-o', 'json', '--show-managed-fields')).stdout) as typeof after;
  t.deepEqual(forced.spec.ips, ['172.18.41.40-172.18.41.45']);
  t.true(forced.metadata.managedFields.some((m) => m.manager === 'flux'));
  ok(t, await kubectl('delete', 'sp', 'custom-ipv4-ippool'), 'delete');
  const gone = await kubectl('get', 'sp', 'custom-ipv4-ippool');
  t.regex(gone.stderr, /NotFound|not found/);
});

// The `ipam` CLI as a user runs it (a child process), on a real etcd and against a real daemon's socket.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeEvent } from '../events/catalogue.js';
import { Tag } from '../events/tags.js';
import { startDaemon } from './helpers/daemon.js';
import { freshPrefix, openStore, sharedEtcd } from './helpers/store.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');

function ipam(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ETCD_ENDPOINTS: '' }, timeout: 60_000 }, (err, stdout, stderr) =>
      ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

const MANIFESTS = `
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderSubnet
metadata: {name: sn-80}
spec: {ipVersion: 4, subnet: 10.80.0.0/16, ips: [10.80.0.2-10.80.0.250], gateway: 10.80.0.1}
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: pool-80
  labels: {team: net}
spec:
  ipVersion: 4
  subnet: 10.80.0.0/16
  ips: [10.80.0.10-10.80.0.20]
  gateway: 10.80.0.1
  default: true
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderReservedIP
metadata: {name: keep-out}
spec: {ipVersion: 4, ips: [10.80.0.10-10.80.0.11]}
---
apiVersion: whereabouts.cni.cncf.io/v1alpha1
kind: IPPool
metadata: {name: wb-81, namespace: kube-system}
spec: {range: 10.81.0.0/28}
`;

async function direct() {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  return { prefix, args: ['--etcd', endpoints.join(','), '--prefix', prefix] };
}

test('apply creates, re-apply writes nothing, a change is configured; get prints kubectl-like tables', async (t) => {
  const { prefix, args } = await direct();
  const dir = mkdtempSync(join(tmpdir(), 'ipam-cli-'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(file, MANIFESTS);
  const first = await ipam([...args, 'apply', '-f', file]);
  t.is(first.code, 0, first.stderr);
  t.deepEqual(first.stdout.trim().split('\n'), [
    'spidersubnet.spiderpool.spidernet.io/sn-80 created',
    'spiderippool.spiderpool.spidernet.io/pool-80 created',
    'spiderreservedip.spiderpool.spidernet.io/keep-out created',
    'ippool.whereabouts.cni.cncf.io/wb-81 created',
  ]);
  const s = await openStore({ prefix });
  t.teardown(() => s.close());
  const head = await s.store.headRevision();
  const again = await ipam([...args, 'apply', '-f', file]);
  t.is(again.code, 0, again.stderr);
  t.true(again.stdout.trim().split('\n').every((l) => l.endsWith(' unchanged')), again.stdout);
  t.is(await s.store.headRevision(), head, 're-applying unchanged manifests writes nothing');
  writeFileSync(file, MANIFESTS.replace('10.80.0.10-10.80.0.20', '10.80.0.10-10.80.0.30'));
  const changed = await ipam([...args, 'apply', '-f', file]);
  t.regex(changed.stdout, /spiderippool\.spiderpool\.spidernet\.io\/pool-80 configured/);
  writeFileSync(file, MANIFESTS.replace('10.80.0.10-10.80.0.20', '10.80.0.10-10.80.0.30').replace('team: net', 'team: infra'));
  const relabelled = await ipam([...args, 'apply', '-f', file]);
  t.regex(relabelled.stdout, /spiderippool\.spiderpool\.spidernet\.io\/pool-80 configured/, 'a label change alone is applied');
  t.regex(relabelled.stdout, /spidersubnet\.spiderpool\.spidernet\.io\/sn-80 unchanged/);
  const table = await ipam([...args, 'get', 'sp']);
  t.is(table.code, 0, table.stderr);
  const [header, row] = table.stdout.trim().split('\n');
  t.regex(header!, /^NAME\s+VERSION\s+SUBNET\s+ALLOCATED-IP-COUNT\s+TOTAL-IP-COUNT\s+DEFAULT$/);
  t.regex(row!, /^pool-80\s+4\s+10\.80\.0\.0\/16\s+0\s+21\s+true$/);
  const yaml = await ipam([...args, 'get', 'spiderippool', 'pool-80', '-o', 'yaml']);
  t.regex(yaml.stdout, /kind: SpiderIPPool/);
  t.regex(yaml.stdout, /team: infra/, 'labels kept, the latest applied');
  const wb = await ipam([...args, 'get', 'ippools', '-A', '-o', 'json']);
  t.is(JSON.parse(wb.stdout).items.length, 2, 'both pools render as Whereabouts IPPools');
});

test('bad manifests: a clear error naming the document and field, exit 2, nothing written', async (t) => {
  const { prefix, args } = await direct();
  const s = await openStore({ prefix });
  t.teardown(() => s.close());
  const cases = [
    ['kind: SpiderIPPool\napiVersion: spiderpool.spidernet.io/v2beta1\nmetadata: {name: p}\nspec: {ipVersion: 4, subnet: 10.0.0.0/33, ips: [10.0.0.1]}\n', /spec\.subnet/],
    ['kind: SpiderIPPool\napiVersion: spiderpool.spidernet.io/v2beta1\nmetadata: {name: p}\nspec: {ipVersion: 6, subnet: 10.0.0.0/24, ips: [10.0.0.1]}\n', /spec\.subnet/],
    ['kind: SpiderIPPool\napiVersion: spiderpool.spidernet.io/v2beta1\nmetadata: {name: p}\nspec: {ipVersion: 4, subnet: 10.0.0.0/24, ips: [10.0.0.1], colour: red}\n', /colour/],
    ['kind: Pod\napiVersion: v1\nmetadata: {name: p}\nspec: {}\n', /kind/],
    ['kind: SpiderIPPool\napiVersion: spiderpool.spidernet.io/v2beta1\nmetadata: {name: p}\nspec: [unclosed\n', /YAML/],
  ] as const;
  for (const [doc, field] of cases) {
    const r = await ipam([...args, 'apply', '-f', '-'], doc);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, field);
  }
  t.is(await s.store.headRevision(), 0, 'nothing written');
});

test('alloc and release through the daemon socket; history, replay --at, check, export and import on etcd', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  const { endpoints } = await sharedEtcd();
  const args = ['--etcd', endpoints.join(','), '--prefix', f.prefix];
  const sock = ['--socket', f.socket];
  const apply = await ipam([...args, 'apply', '-f', '-'], MANIFESTS);
  t.is(apply.code, 0, apply.stderr);
  const a = await ipam([...sock, 'alloc', '--pod', 'default/web-0', '--container-id', 'ctr-web-0', '-o', 'json']);
  t.is(a.code, 0, a.stderr);
  const got = JSON.parse(a.stdout) as { allocations: { address: string }[]; revision: number };
  const address = got.allocations[0]!.address;
  t.regex(address, /^10\.80\.0\.(1[2-9]|20)$/, 'from the default pool, never a reserved address');
  const table = await ipam([...sock, 'get', 'se', '-n', 'default']);
  t.regex(table.stdout.split('\n')[1] ?? '', new RegExp(`^web-0\\s+eth0\\s+pool-80\\s+${address.replaceAll('.', '\\.')}`), table.stdout + table.stderr);
  const r = await ipam([...sock, 'release', '--container-id', 'ctr-web-0']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(address.replaceAll('.', '\\.')));
  const h = await ipam([...args, 'history', 'ip', address]);
  t.regex(h.stdout.split('\n')[1] ?? '', new RegExp(`^${address.replaceAll('.', '\\.')}\\s+pool-80\\s+default/web-0\\s+eth0\\s+\\S+\\s+\\S+\\s+cni-del`), h.stdout);
  const then = await ipam([...args, 'replay', '--at', String(got.revision), '--kind', 'se', '-o', 'json']);
  t.is(JSON.parse(then.stdout).items.length, 1, 'as of the allocation, the endpoint existed');
  const now = await ipam([...args, 'replay', '-o', 'json']);
  t.is(JSON.parse(now.stdout).objects.spiderendpoints, 0, 'now it is gone');
  const ok = await ipam([...args, 'check']);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'ipam-cli-'));
  const file = join(dir, 'log.jsonl');
  t.is((await ipam([...args, 'export', file])).code, 0);
  t.true(readFileSync(file, 'utf8').split('\n').filter(Boolean).length >= 2);
  const other = freshPrefix();
  const imp = await ipam(['--etcd', endpoints.join(','), '--prefix', other, 'import', file]);
  t.is(imp.code, 0, imp.stderr);
  const h2 = await ipam(['--etcd', endpoints.join(','), '--prefix', other, 'history', 'ip', address, '-o', 'json']);
  // Same holdings, times and reasons; revisions are the importing etcd's own.
  const story = (text: string) => JSON.stringify(JSON.parse(text), (k, v: unknown) => (k === 'revision' ? undefined : v));
  t.is(story(h2.stdout), story((await ipam([...args, 'history', 'ip', address, '-o', 'json'])).stdout), 'the imported log tells the same story');
});

test('check finds a duplicate and an orphaned release written behind the engine\'s back, and exits 1', async (t) => {
  const { prefix, args } = await direct();
  t.is((await ipam([...args, 'apply', '-f', '-'], MANIFESTS)).code, 0);
  const s = await openStore({ prefix });
  t.teardown(() => s.close());
  const ep = (name: string) => ({ namespace: 'default', name, uid: `u-${name}`, containerID: `c-${name}`, node: 'n', nic: 'eth0' });
  const alloc = (id: string, name: string) =>
    makeEvent('IPAllocated', { allocationId: id, pool: 'pool-80', ipVersion: 4, address: '10.80.0.15', prefixLength: 16, endpoint: ep(name) }, { id: s.store.newId(), at: '2026-11-23T00:00:00Z', tags: [Tag.pool('pool-80')] });
  await s.store.append([alloc('a1', 'x')]);
  await s.store.append([alloc('a2', 'y')]);
  await s.store.append([makeEvent('IPReleased', { allocationId: 'ghost', pool: 'pool-80', address: '10.80.0.16', reason: 'admin', endpoint: ep('z') }, { id: s.store.newId(), at: '2026-11-23T00:00:00Z', tags: [Tag.pool('pool-80')] })]);
  const r = await ipam([...args, 'check', '-o', 'json']);
  t.is(r.code, 1);
  const doc = JSON.parse(r.stdout) as { ok: boolean; findings: { check: string; problems: number }[] };
  t.false(doc.ok);
  const by = Object.fromEntries(doc.findings.map((x) => [x.check, x.problems]));
  t.is(by['no address held twice'], 1);
  t.is(by['every release matches an allocation'], 1);
});

test('errors say how to fix them: no daemon socket, no etcd, bad --at', async (t) => {
  const noSock = await ipam(['--socket', '/nonexistent/ipam.sock', 'alloc', '--pod', 'a/b', '--container-id', 'c']);
  t.is(noSock.code, 2);
  t.regex(noSock.stderr, /no daemon socket at \/nonexistent\/ipam\.sock: start one with `npm start`/);
  const noEtcd = await ipam(['history', 'ip', '10.0.0.1']);
  t.regex(noEtcd.stderr, /give --etcd/);
  const { args } = await direct();
  const badAt = await ipam([...args, 'replay', '--at', 'yesterday-ish']);
  t.regex(badAt.stderr, /--at yesterday-ish: expected a revision/);
});

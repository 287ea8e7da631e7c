// The daemon's HTTP API on a real etcd: auth on TCP, the owner-only socket, allocate/release/look up, errors that
// name the field and change nothing, readiness, metrics, and read-your-writes across two daemons.
import test from 'ava';
import { statSync } from 'node:fs';
import { loadAll } from '../projections/checkpoint.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, type DaemonFixture } from './helpers/daemon.js';

async function withPool(f: DaemonFixture): Promise<void> {
  await f.daemon.allocator.definePool('v4', { ipVersion: 4, subnet: '10.70.0.0/24', ips: ['10.70.0.10-10.70.0.40'], gateway: '10.70.0.1', default: true }, { at: AT });
}

const ep = (name: string) => ({ namespace: 'default', name, uid: `uid-${name}`, containerID: `ctr-${name}` });

test('TCP requires the bearer token: none or a wrong one gets 401 and writes nothing', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await withPool(f);
  const before = await f.store.headRevision();
  for (const token of [null, 'wrong-token-0123456789abcdef', '']) {
    const r = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('a') }, token });
    t.is(r.status, 401, `token ${String(token)}`);
    t.is(r.json().error.code, 'Unauthorized');
  }
  t.is(await f.store.headRevision(), before, 'nothing written');
  t.is((await call(f, 'GET', '/metrics', { token: null })).status, 401, 'metrics need the token on TCP');
  t.is((await call(f, 'GET', '/healthz', { token: null })).status, 200, 'probes need none');
  t.is((await call(f, 'GET', '/readyz', { token: null })).status, 200);
  const ok = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('a') } });
  t.is(ok.status, 201);
});

test('the unix socket is owner-only (0600) and needs no token', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await withPool(f);
  t.is(statSync(f.socket).mode & 0o777, 0o600);
  const r = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('s') }, via: 'socket' });
  t.is(r.status, 201);
  t.regex(r.json().allocations[0].address, /^10\.70\.0\./);
});

test('allocate, retry the same ADD, look up by container, release: answers carry revisions', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await withPool(f);
  const first = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('web') } });
  t.is(first.status, 201);
  t.regex(String(first.headers['server-timing']), /^app;dur=\d+\.\d\d$/, "the daemon's own time on it, for clients to tell it from theirs");
  const a = first.json();
  t.false(a.reused);
  t.is(a.allocations[0].gateway, '10.70.0.1');
  const again = (await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('web') } })).json();
  t.true(again.reused);
  t.is(again.allocations[0].address, a.allocations[0].address);
  const got = (await call(f, 'GET', '/v1/allocations?containerID=ctr-web')).json();
  t.deepEqual(got.allocations.map((x: { address: string }) => x.address), [a.allocations[0].address]);
  const byPod = (await call(f, 'GET', '/v1/allocations?namespace=default&name=web')).json();
  t.is(byPod.allocations.length, 1);
  const rel = (await call(f, 'POST', '/v1/releases', { body: { containerID: 'ctr-web' } })).json();
  t.is(rel.released.length, 1);
  t.true(rel.revision > a.revision);
  t.deepEqual((await call(f, 'GET', '/v1/allocations?containerID=ctr-web')).json().allocations, [], 'reads see the release at once');
  const none = (await call(f, 'POST', '/v1/releases', { body: { containerID: 'ctr-web' } })).json();
  t.deepEqual(none.released, [], 'releasing nothing is success (CNI DEL twice)');
});

test('bad input: a clear error naming the field, and nothing written', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await withPool(f);
  const before = await f.store.headRevision();
  const cases: { raw?: string; body?: unknown; status: number; field?: string; code?: string }[] = [
    { raw: '{"endpoint": ', status: 400, code: 'MalformedJSON' },
    { raw: '[1,2]', status: 400, field: 'body' },
    { body: {}, status: 400, field: 'endpoint' },
    { body: { endpoint: { namespace: 'x', name: 'y' } }, status: 400, field: 'endpoint.containerID' },
    { body: { endpoint: { ...ep('z'), nic: 'a-very-long-interface-name' } }, status: 400, field: 'endpoint.nic' },
    { body: { endpoint: ep('z'), families: [5] }, status: 400, field: 'families' },
    { body: { endpoint: ep('z'), pools: { ipv4: ['nope'] } }, status: 404, code: 'PoolNotFound' },
    { body: { endpoint: ep('z'), pools: { ipv7: ['v4'] } }, status: 400, field: 'pools.ipv7' },
    { body: { endpoint: ep('z'), surprise: 1 }, status: 400, field: 'surprise' },
  ];
  for (const c of cases) {
    const r = await call(f, 'POST', '/v1/allocations', c.raw !== undefined ? { raw: c.raw } : { body: c.body });
    t.is(r.status, c.status, JSON.stringify(c));
    const e = r.json().error;
    if (c.field) t.is(e.field, c.field, JSON.stringify(c));
    if (c.code) t.is(e.code, c.code);
    t.truthy(e.message);
  }
  const big = await call(f, 'POST', '/v1/allocations', { raw: 'x'.repeat(2 * 1024 * 1024) });
  t.is(big.status, 413, 'oversized bodies are refused');
  const stale = await call(f, 'DELETE', '/v1/allocations/nope');
  t.is(stale.status, 409, 'releasing an allocation that is not current is refused (ABA-safe)');
  t.is(stale.json().error.code, 'StaleRelease');
  t.is(await f.store.headRevision(), before, 'nothing written');
});

test('an exhausted pool answers 409 PoolExhausted, not a hang or a 500', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await f.daemon.allocator.definePool('tiny', { ipVersion: 4, subnet: '10.71.0.0/24', ips: ['10.71.0.10-10.71.0.11'], default: true }, { at: AT });
  const answers = await Promise.all(['p1', 'p2', 'p3'].map((n) => call(f, 'POST', '/v1/allocations', { body: { endpoint: ep(n) } })));
  t.deepEqual(answers.map((a) => a.status).sort(), [201, 201, 409]);
  t.is(answers.find((a) => a.status === 409)!.json().error.code, 'PoolExhausted');
});

test('two daemons on one etcd: a client reads its writes on the other daemon with minRevision; concurrent allocations never collide', async (t) => {
  const a = await startDaemon();
  t.teardown(() => a.close());
  const b = await startDaemon({ prefix: a.prefix, node: 'node-2' });
  t.teardown(() => b.close());
  await withPool(a);
  const made = (await call(a, 'POST', '/v1/allocations', { body: { endpoint: ep('x') } })).json();
  const seen = (await call(b, 'GET', `/v1/allocations?containerID=ctr-x&minRevision=${made.revision}`)).json();
  t.is(seen.allocations[0]?.address, made.allocations[0].address);
  const answers = await Promise.all(
    Array.from({ length: 24 }, (_, i) => call(i % 2 ? a : b, 'POST', '/v1/allocations', { body: { endpoint: ep(`c${i}`) } })),
  );
  t.true(answers.every((r) => r.status === 201));
  const addrs = answers.map((r) => r.json().allocations[0].address);
  t.is(new Set(addrs).size, addrs.length, 'no address handed out twice');
});

test('readiness, and metrics after traffic', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await withPool(f);
  await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('m') } });
  // Ready once a probe has seen the daemon caught up (probes run every second; a loaded machine may miss one).
  for (let i = 0; i < 50 && !f.daemon.readiness.ready; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(f.daemon.readiness.ready, f.daemon.readiness.reason);
  const m = (await call(f, 'GET', '/metrics')).text;
  t.regex(m, /^ipam_allocations_total 1$/m);
  t.regex(m, /^ipam_txn_batch_members_count [1-9]/m);
  t.regex(m, /^ipam_request_duration_seconds_count\{route="\/v1\/allocations",code="201"\} 1$/m);
  t.regex(m, /^ipam_projection_lag_revisions \d+$/m);
  t.regex(m, /^ipam_ready 1$/m);
});

test('a restarted daemon starts from the live checkpoint and replays only the tail, ending equal to the first', async (t) => {
  const a = await startDaemon();
  await withPool(a);
  for (let i = 0; i < 5; i++) await call(a, 'POST', '/v1/allocations', { body: { endpoint: ep(`cp${i}`) } });
  await a.daemon.projections.sync();
  await a.daemon.checkpointer.save();
  const cp = await loadAll(a.store, ALL_PROJECTIONS);
  t.is(cp?.revision, a.daemon.projections.revision, 'all projections saved at one revision');
  await call(a, 'POST', '/v1/allocations', { body: { endpoint: ep('after-cp') } }); // the tail
  await a.daemon.projections.sync();
  const before = [...a.daemon.projections.list('spider-endpoints')].map((o) => o.metadata.name).sort();
  await a.close();
  const b = await startDaemon({ prefix: a.prefix });
  t.teardown(() => b.close());
  t.is(b.daemon.startedFromCheckpoint, cp?.revision, 'the projections started from the checkpoint, not from revision 0');
  t.deepEqual([...b.daemon.projections.list('spider-endpoints')].map((o) => o.metadata.name).sort(), before);
  t.is(b.daemon.projections.get('spider-ippool', 'v4')?.status !== undefined, true);
});

test('with an owner resolver (serve --kubeconfig), an allocation without an owner gets the pod\'s controller; a failing lookup does not block it', async (t) => {
  const asked: string[] = [];
  const f = await startDaemon({
    extra: {
      resolveOwner: async (ns, pod) => {
        asked.push(`${ns}/${pod}`);
        if (pod === 'broken') throw new Error('API server down');
        return { kind: 'StatefulSet', name: 'db' };
      },
    },
  });
  t.teardown(() => f.close());
  await withPool(f);
  const r = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('db-0') } });
  t.is(r.json().allocations[0].endpoint.owner.kind, 'StatefulSet');
  await f.daemon.projections.sync();
  const se = f.daemon.projections.get('spider-endpoints', 'default/db-0') as { status: { ownerControllerType: string; ownerControllerName: string } };
  t.deepEqual([se.status.ownerControllerType, se.status.ownerControllerName], ['StatefulSet', 'db']);
  const given = await call(f, 'POST', '/v1/allocations', { body: { endpoint: { ...ep('web-1'), owner: { kind: 'ReplicaSet', name: 'web' } } } });
  t.is(given.json().allocations[0].endpoint.owner.kind, 'ReplicaSet', 'an owner the request gives is kept');
  t.is((await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('broken') } })).status, 201);
  t.deepEqual(asked, ['default/db-0', 'default/broken']);
});

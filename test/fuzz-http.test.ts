// fast-check fuzz of the daemon's doors over HTTP: the /v1 allocation API (TCP) and the CNI route (unix socket).
// Every hostile input gets a clear error (a code and a message; a field for bad input), never a 5xx, and writes
// nothing (the prefix's head revision does not move).
import test from 'ava';
import fc from 'fast-check';
import { cniSocketRoute } from '../src/cni/daemon-route.js';
import { ENV_HEADERS, EXIT_CODE_HEADER, MAX_STDIN_BYTES, encodeHeaderValue } from '../src/cni/wire.js';
import { MAX_BODY_BYTES } from '../src/daemon/http.js';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, type DaemonFixture } from './helpers/daemon.js';
import { NO_PEER_LIMITS } from '../src/daemon/peer-admission.js';

const RUNS = Number(process.env.IPAM_FUZZ_RUNS ?? 150);

async function withPools(f: DaemonFixture): Promise<void> {
  await f.daemon.allocator.definePool('v4', { ipVersion: 4, subnet: '10.90.0.0/24', ips: ['10.90.0.10-10.90.0.200'] }, { at: AT });
  await f.daemon.allocator.definePool('v6', { ipVersion: 6, subnet: 'fd00:90::/120', ips: ['fd00:90::10-fd00:90::80'] }, { at: AT });
}

const validBody = { endpoint: { namespace: 'default', name: 'fz', uid: 'uid-fz', containerID: 'ctr-fz' }, pools: { ipv4: ['v4'] } };

/** One corruption of a valid allocate body: each makes it invalid. */
const corruptBody = fc.oneof(
  fc.record({ k: fc.constantFrom('namespace', 'name', 'uid', 'containerID', 'nic', 'node'), v: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.constant(''), fc.constant('x'.repeat(300)), fc.constant('a\u0000c'), fc.constant('a/b')) })
    .filter(({ k, v }) => !(v === 'a/b' && ['uid', 'containerID', 'node'].includes(k))) // '/' is refused only where it would make tags ambiguous
    .filter(({ k, v }) => !(v === null && ['uid', 'nic', 'node'].includes(k))) // null: an optional field left out
    .map(({ k, v }) => ({ ...validBody, endpoint: { ...validBody.endpoint, [k]: v } })),
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !['endpoint', 'pools', 'families', 'at'].includes(k)).map((k) => ({ ...validBody, [k]: 1 })),
  // IPv4/IPv6 mix-ups: the v6 pool asked for as IPv4 and back, families that do not exist.
  fc.constantFrom({ ipv4: ['v6'] }, { ipv6: ['v4'] }, { ipv6: ['10.90.0.0/24'] }, { ipv4: ['10.90.0.0/24'] }, { ipv4: 'v4' }, { ipv46: ['v4'] }, { ipv4: [] , ipv6: [7] })
    .map((pools) => ({ ...validBody, pools })),
  fc.oneof(fc.constant([5]), fc.constant('4'), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }).filter((a) => a.some((x) => x !== 4 && x !== 6)))
    .map((families) => ({ ...validBody, families })),
);

const garbageText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)).filter((s) => !s.includes('"endpoint"')),
  fc.nat({ max: 60 }).map((n) => JSON.stringify(validBody).slice(0, n)), // truncated JSON
  fc.constant('{"endpoint": {"namespace": "a", "name": "b", "containerID": "c"}, "endpoint": 1}'),
);

function isClearError(t: import('ava').ExecutionContext, status: number, text: string, what: string): boolean {
  let e: { code?: unknown; message?: unknown; retryable?: unknown } | undefined;
  try {
    e = (JSON.parse(text) as { error?: typeof e }).error;
  } catch {
    e = undefined;
  }
  const ok = status >= 400 && status < 500 && typeof e?.code === 'string' && typeof e.message === 'string' && e.message.length > 0 && e.retryable === false;
  if (!ok) t.log(`${what}: ${status} ${text.slice(0, 300)}`);
  return ok;
}

test('/v1 API: malformed JSON, wrong shapes, corrupted fields, family mix-ups, oversized bodies: 4xx with a code and message; nothing written', async (t) => {
  // Each hostile request's own answer is tested, not the per-peer refusal budget (test/hostile-http has that).
  const f = await startDaemon({ extra: { peerLimits: NO_PEER_LIMITS } });
  t.teardown(() => f.close());
  await withPools(f);
  const before = await f.store.headRevision();
  let tried = 0;
  const req = fc.oneof(
    garbageText.map((raw) => ({ method: 'POST', path: '/v1/allocations', raw })),
    // A fresh pod and containerID each: a retry of an existing one answers its allocation before looking at the rest.
    fc.tuple(corruptBody, fc.uuid()).map(([b, id]) => {
      const body = b as typeof validBody;
      const containerID = body.endpoint.containerID === 'ctr-fz' ? `ctr-${id}` : body.endpoint.containerID;
      const name = body.endpoint.name === 'fz' ? `fz-${id}` : body.endpoint.name; // a pod's new sandbox reuses its address
      return { method: 'POST', path: '/v1/allocations', raw: JSON.stringify({ ...body, endpoint: { ...body.endpoint, containerID, name } }) };
    }),
    garbageText.map((raw) => ({ method: 'POST', path: '/v1/releases', raw })),
    fc.string({ maxLength: 40 }).map((id) => ({ method: 'DELETE', path: `/v1/allocations/${encodeURIComponent(id || 'x')}?reason=${encodeURIComponent(id)}`, raw: undefined })),
    fc.string({ maxLength: 20 }).map((q) => ({ method: 'GET', path: `/v1/allocations?minRevision=-${encodeURIComponent(q)}`, raw: undefined })),
    fc.constantFrom('PUT', 'PATCH').map((method) => ({ method, path: '/v1/allocations', raw: JSON.stringify(validBody) })),
  );
  await fc.assert(
    fc.asyncProperty(req, async (r) => {
      tried++;
      const a = await call(f, r.method, r.path, r.raw === undefined ? {} : { raw: r.raw });
      return isClearError(t, a.status, a.text, `${r.method} ${r.path} ${String(r.raw).slice(0, 120)}`);
    }),
    { numRuns: RUNS },
  );
  // Oversized bodies, bounded: a little over the limit, declared or streamed (chunked, no content-length).
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 64 * 1024 }), fc.boolean(), async (extra, chunked) => {
      tried++;
      const raw = Buffer.alloc(MAX_BODY_BYTES + extra, '{');
      const a = await call(f, 'POST', '/v1/allocations', chunked ? { raw, headers: { 'transfer-encoding': 'chunked' } } : { raw });
      return a.status === 413 && isClearError(t, a.status, a.text, `oversized ${extra} chunked=${chunked}`);
    }),
    { numRuns: 8 },
  );
  t.log(`${tried} hostile requests`);
  t.is(await f.store.headRevision(), before, 'nothing written');
});

test('CNI route on the socket: garbage stdin and environment: a CNI error result with a code and message; nothing written', async (t) => {
  const f = await startDaemon({ extra: { socketRoutes: [cniSocketRoute] } });
  t.teardown(() => f.close());
  await withPools(f);
  const before = await f.store.headRevision();
  let tried = 0;
  const env = fc.record({
    CNI_COMMAND: fc.oneof(fc.constantFrom('ADD', 'CHECK', 'GC', 'STATUS'), fc.string({ maxLength: 8 })),
    CNI_CONTAINERID: fc.oneof(fc.constant('ctr-fuzz'), fc.string({ maxLength: 80 })),
    CNI_NETNS: fc.constantFrom('/run/netns/fz', ''),
    CNI_IFNAME: fc.oneof(fc.constant('eth0'), fc.string({ maxLength: 20 })),
    CNI_ARGS: fc.oneof(fc.constant('K8S_POD_NAMESPACE=default;K8S_POD_NAME=fz;K8S_POD_UID=u'), fc.string({ maxLength: 60 })),
  });
  const conf = (ipam: unknown) => JSON.stringify({ cniVersion: '1.0.0', name: 'fz', type: 'macvlan', ipam });
  const stdin = fc.oneof(
    garbageText,
    fc.jsonValue({ maxDepth: 2 }).map((ipam) => conf(ipam)), // ipam of any shape
    fc.constantFrom({ type: 'ipam-es', ipv4: ['v6'] }, { type: 'ipam-es', ipv6: ['v4'] }, { type: 'ipam-es', ipv4: ['nope'] }, { type: 'ipam-es', ipv4: 'v4', surprise: true }, { type: 'other' }).map(conf),
  );
  await fc.assert(
    fc.asyncProperty(env, stdin, async (e, body) => {
      tried++;
      const headers: Record<string, string> = {};
      for (const [k, h] of Object.entries(ENV_HEADERS)) {
        const v = (e as Record<string, string>)[k];
        if (v !== undefined) headers[h] = encodeHeaderValue(v);
      }
      const a = await call(f, 'POST', '/v1/cni', { raw: body, via: 'socket', headers });
      const exit = Number(a.headers[EXIT_CODE_HEADER]);
      let out: { code?: unknown; msg?: unknown } = {};
      try {
        out = JSON.parse(a.text) as typeof out;
      } catch {
        /* checked below */
      }
      // STATUS and GC with a well-formed config may succeed (exit 0): they write nothing either.
      const ok = exit === 0 ? ['STATUS', 'GC'].includes(e.CNI_COMMAND) : typeof out.code === 'number' && typeof out.msg === 'string' && out.msg.length > 0;
      if (!ok) t.log(`${JSON.stringify(e)} ${body.slice(0, 200)} -> ${a.status} exit ${exit} ${a.text.slice(0, 300)}`);
      return ok;
    }),
    { numRuns: RUNS },
  );
  const big = await call(f, 'POST', '/v1/cni', { raw: Buffer.alloc(MAX_STDIN_BYTES + 1, ' '), via: 'socket', headers: { [ENV_HEADERS.CNI_COMMAND]: 'ADD' } });
  t.not(Number(big.headers[EXIT_CODE_HEADER]), 0, 'oversized stdin refused');
  t.log(`${tried + 1} hostile CNI calls`);
  t.is(await f.store.headRevision(), before, 'nothing written');
});

test('Kubernetes-style API: POST/PUT/PATCH of SpiderIPPool with garbage, invalid CIDRs, family mix-ups, unknown fields (Strict): a 4xx Status; nothing written', async (t) => {
  // Each hostile request's own answer is tested, not the per-peer refusal budget (test/hostile-http has that).
  const f = await startDaemon({ extra: { peerLimits: NO_PEER_LIMITS } });
  t.teardown(() => f.close());
  await withPools(f);
  const before = await f.store.headRevision();
  const base = '/apis/spiderpool.spidernet.io/v2beta1/spiderippools';
  const badSpec = fc.oneof(
    fc.string({ maxLength: 30 }).map((subnet) => ({ ipVersion: 4, subnet, ips: ['10.92.0.10'] })),
    fc.integer({ min: 33, max: 200 }).map((p) => ({ ipVersion: 4, subnet: `10.92.0.0/${p}`, ips: ['10.92.0.10'] })),
    fc.constantFrom(
      { ipVersion: 4, subnet: 'fd00:92::/120', ips: ['fd00:92::10'] },
      { ipVersion: 6, subnet: '10.92.0.0/24', ips: ['10.92.0.10'] },
      { ipVersion: 4, subnet: '10.92.0.0/24', ips: ['fd00:92::10'] },
      { ipVersion: 4, subnet: '10.92.0.0/24', ips: ['10.92.0.10'], gateway: 'fd00:92::1' },
      { ipVersion: 4, subnet: '10.92.0.0/24', ips: ['10.92.0.10'], colour: 'blue' },
    ),
  );
  const obj = (name: string, spec: unknown) => ({ apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name }, spec });
  const req = fc.oneof(
    fc.tuple(fc.constantFrom('POST', 'PUT', 'PATCH'), garbageText).map(([method, raw]) => ({ method, path: method === 'POST' ? base : `${base}/v4`, raw })),
    fc.tuple(badSpec, fc.uuid()).map(([spec, id]) => ({ method: 'POST', path: base, raw: JSON.stringify(obj(`fz-${id.slice(0, 8)}`, spec)) })),
    badSpec.map((spec) => ({ method: 'PUT', path: `${base}/v4`, raw: JSON.stringify(obj('v4', spec)) })),
    fc.tuple(badSpec, fc.constantFrom('application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'text/plain')).map(([spec, ct]) => ({
      method: 'PATCH',
      path: `${base}/v4`,
      raw: JSON.stringify(ct === 'application/json-patch+json' ? [{ op: 'replace', path: '/spec', value: spec }] : { spec }),
      ct,
    })),
  );
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(req, async (r) => {
      tried++;
      const ct = 'ct' in r ? r.ct : 'application/json';
      const a = await call(f, r.method, `${r.path}?fieldValidation=Strict`, { raw: r.raw, headers: { 'content-type': ct } });
      let s: { kind?: unknown; status?: unknown; message?: unknown } = {};
      try {
        s = JSON.parse(a.text) as typeof s;
      } catch {
        /* checked below */
      }
      const ok = a.status >= 400 && a.status < 500 && s.kind === 'Status' && s.status === 'Failure' && typeof s.message === 'string' && s.message.length > 0;
      if (!ok) t.log(`${r.method} ${r.path} ${ct} ${r.raw.slice(0, 200)} -> ${a.status} ${a.text.slice(0, 300)}`);
      return ok;
    }),
    { numRuns: RUNS },
  );
  t.log(`${tried} hostile Kubernetes-style writes`);
  t.is(await f.store.headRevision(), before, 'nothing written');
});

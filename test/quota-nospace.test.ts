// etcd runs out of space under a running daemon (its NOSPACE alarm): every door names the alarm and the fix (HTTP 507
// EtcdNoSpace, CNI error 110 / STATUS 50, CLI exit 28, /readyz), nothing of a refused request is written or kept
// claimed, and once the operator frees space (etcdctl compact + defrag + alarm disarm) the same daemon serves again.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { definePool } from '../bench/alloc/engine.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { sleep } from '../src/local/ports.js';
import { startServe } from '../src/local/serve-process.js';
import { openEtcd } from '../src/store/connect.js';
import { call, type Answer } from './helpers/daemon.js';
import { ROOT, pluginBinary, runPlugin } from './helpers/cni.js';
import { auditLog } from './helpers/log-audit.js';
import { freshPrefix } from './helpers/store.js';

const run = promisify(execFile);
/** A small quota, so that the engine's own churn reaches it in seconds (bbolt's growth makes a filled-up larger one
 * reach NOSPACE after anything from a few to thousands of cycles). */
const QUOTA = 2 * 1024 * 1024;
const MAX_CYCLES = 20_000;
/** Addresses of a /27 the allocator hands out (network and broadcast never). */
const POOL_SIZE = 30;
/** Concurrent allocations refused at once; the live set and these fit the pool (WORKERS * (LIVE + 1) + BURST <= POOL_SIZE). */
const BURST = 4;
/** Pods each churning worker keeps live. */
const LIVE = 2;
const WORKERS = 8;

async function until(what: string, probe: () => Promise<Answer>, ok: (a: Answer) => boolean, timeoutMs: number): Promise<Answer> {
  const t0 = Date.now();
  for (;;) {
    const a = await probe().catch(() => undefined);
    if (a && ok(a)) return a;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${a?.status} ${a?.text})`);
    await sleep(100);
  }
}

test('NOSPACE: every door names the alarm, nothing is half-written, and the daemon serves again after compact + defrag + disarm', async (t) => {
  const etcd = await LocalEtcd.start({ extraArgs: [`--quota-backend-bytes=${QUOTA}`] });
  t.teardown(() => etcd.stop());
  const endpoint = etcd.endpoints[0]!;
  const prefix = freshPrefix();
  await definePool(etcd.endpoints, prefix, '10.84.0.0/27');
  const raw = openEtcd({ endpoints: etcd.endpoints });
  t.teardown(() => raw.close());
  // What else is in a shared etcd (Kubernetes' objects): not the engine's, and the operator may delete it.
  for (let i = 0; i < 4; i++) await raw.put(`/filler/${i}`).value(Buffer.alloc(128 * 1024, 'x'));

  const d = await startServe({ endpoints: etcd.endpoints, prefix, node: 'full-0' });
  t.teardown(() => d.stop());
  const f = { port: Number(new URL(d.url).port), socket: d.socket, ca: d.ca };
  const alloc = (name: string) => call(f, 'POST', '/v1/allocations', { token: d.token, body: { endpoint: { namespace: 'full', name, uid: `uid-${name}`, containerID: `ctr-${name}` }, pools: { ipv4: ['bench'] } } });
  const release = (name: string) => call(f, 'POST', '/v1/releases', { token: d.token, body: { containerID: `ctr-${name}` } });

  // Churn as Deployments do (a new pod, the oldest released), WORKERS at a time, until etcd refuses.
  const lives: string[][] = [];
  const acks: { address: string; id: string }[] = [];
  let refused: Answer | undefined;
  let cycles = 0;
  const worker = async (w: number) => {
    const mine: string[] = (lives[w] = []);
    while (cycles < MAX_CYCLES && !refused) {
      const name = `p${w}-${cycles++}`;
      const a = await alloc(name);
      if (a.status !== 201) return void (refused ??= a);
      acks.push({ address: a.json().allocations[0].address, id: name });
      mine.push(name);
      if (mine.length > LIVE) {
        const r = await release(mine[0]!);
        if (r.status !== 200) return void (refused ??= r);
        mine.shift();
      }
    }
  };
  await Promise.all([...Array(WORKERS).keys()].map(worker));
  const live = lives.flat();
  t.log(`etcd refused after ${cycles} churn cycles (quota ${QUOTA} bytes)`);
  t.truthy(refused, `NOSPACE reached within ${MAX_CYCLES} cycles`);
  t.true(cycles > WORKERS * LIVE, 'the churn itself filled the last of the quota');
  const first = refused!;
  t.is(first.status, 507, first.text);
  t.is(first.json().error.code, 'EtcdNoSpace');
  t.false(first.json().error.retryable, 'retrying cannot help until an operator frees space');
  t.regex(first.json().error.message, /NOSPACE alarm/);
  t.regex(first.json().error.message, /etcdctl alarm disarm/);
  t.regex(first.json().error.message, /nothing of this request was written/);

  // Concurrent allocations and a release: each refused at once (no retries into a broken circuit), none kept claimed.
  const t0 = Date.now();
  const burst = await Promise.all([...Array(BURST).keys()].map((i) => alloc(`burst-${i}`)));
  const burstMs = Date.now() - t0;
  for (const b of burst) t.is(b.status, 507, b.text);
  t.true(burstMs < 3000, `${BURST} refusals answered in ${burstMs} ms`);
  const rel = await release(live[0]!);
  t.is(rel.status, 507, rel.text);
  t.is(rel.json().error.code, 'EtcdNoSpace');
  // Reads still work: etcd serves them, and the circuit breaker stayed closed.
  const held = await call(f, 'GET', `/v1/allocations?containerID=ctr-${live[0]}`, { token: d.token });
  t.is(held.status, 200, held.text);
  t.is(held.json().allocations.length, 1);

  const readyz = await until('readyz names NOSPACE', () => call(f, 'GET', '/readyz', { token: null }), (a) => a.status === 503, 5000);
  t.regex(readyz.text, /not ready: etcd is out of space \(NOSPACE alarm/);

  // CNI door: ADD is a CNI error naming the alarm (code 110); STATUS says ADD cannot be served (50).
  const plugin = pluginBinary();
  const cniEnv = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'ctr-cni', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent', IPAM_ES_SOCKET: d.socket });
  const netconf = JSON.stringify({ cniVersion: '1.1.0', name: 'full-net', type: 'bridge', ipam: { type: 'ipam-es', range: '10.85.0.0/28' } });
  const add = await runPlugin(plugin, cniEnv('ADD'), netconf);
  t.not(add.code, 0);
  const addErr = JSON.parse(add.stdout) as { code: number; msg: string; details: string };
  t.is(addErr.code, 110, add.stdout);
  t.regex(addErr.msg, /NOSPACE/);
  t.regex(addErr.details, /etcdctl compact/);
  const status = await runPlugin(plugin, cniEnv('STATUS'), netconf);
  const statusErr = JSON.parse(status.stdout) as { code: number; details: string };
  t.is(statusErr.code, 50, status.stdout);
  t.regex(statusErr.details, /NOSPACE/);

  // CLI door: a distinct exit code, through the daemon and straight to etcd.
  const cli = (args: string[]) =>
    run(process.execPath, [`${ROOT}/dist/src/cli/main.js`, ...args], { env: { ...process.env, ETCD_ENDPOINTS: '' } }).then(
      (r) => ({ code: 0, stderr: r.stdout + r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
  const viaDaemon = await cli(['--socket', d.socket, 'alloc', '--pod', 'full/cli-0', '--container-id', 'ctr-cli-0', '--ipv4-pool', 'bench']);
  t.is(viaDaemon.code, 28, viaDaemon.stderr);
  t.regex(viaDaemon.stderr, /NOSPACE alarm/);
  const direct = await cli(['--etcd', endpoint, '--prefix', prefix, 'alloc', '--pod', 'full/cli-1', '--container-id', 'ctr-cli-1', '--ipv4-pool', 'bench']);
  t.is(direct.code, 28, direct.stderr);

  // The operator frees space as on any etcd: delete (here: the filler; in production, what retention archived),
  // compact the history, defragment, disarm. The daemon is not restarted.
  const ctl = (...args: string[]) => run('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  await ctl('del', '--prefix', '/filler/');
  const rev = (JSON.parse((await ctl('endpoint', 'status', '-w', 'json')).stdout) as { Status: { header: { revision: number } } }[])[0]!.Status.header.revision;
  await ctl('compact', String(rev));
  await ctl('defrag');
  await ctl('alarm', 'disarm');
  t.is((await ctl('alarm', 'list')).stdout.trim(), '');

  await until('readyz 200 after disarm', () => call(f, 'GET', '/readyz', { token: null }), (a) => a.status === 200, 15_000);
  t.is(d.child.exitCode, null, 'the same daemon process');
  const again = await release(live[0]!);
  t.is(again.status, 200, again.text);
  live.shift();
  // No refused request kept an address claimed: the pool's free addresses are exactly POOL_SIZE - live.
  let got = 0;
  for (;;) {
    const a = await alloc(`after-${got}`);
    if (a.status === 409) {
      t.is(a.json().error.code, 'PoolExhausted');
      break;
    }
    t.is(a.status, 201, a.text);
    acks.push({ address: a.json().allocations[0].address, id: `after-${got}` });
    got++;
    if (got > POOL_SIZE) break;
  }
  if (got + live.length !== POOL_SIZE) t.log((await cli(['--socket', d.socket, 'get', 'sp', 'bench', '-o', 'json'])).stderr, JSON.stringify(live));
  t.is(got + live.length, POOL_SIZE, `after recovery ${got} addresses were free beside ${live.length} live ones`);
  const cniAdd = await runPlugin(plugin, cniEnv('ADD'), netconf);
  t.is(cniAdd.code, 0, cniAdd.stdout);
  acks.push({ address: (JSON.parse(cniAdd.stdout) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!, id: 'ctr-cni' });

  // The log holds exactly what was acknowledged: no refused allocation was written, nothing twice.
  const audit = await auditLog(etcd.endpoints, prefix, acks);
  t.is(audit.acks.lost, 0);
  t.is(audit.acks.extra, 0, audit.acks.details.join('; '));
  t.is(audit.duplicateEventIds + audit.allocatedTwice + audit.log.duplicates, 0);
});

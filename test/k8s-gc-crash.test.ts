// A GC worker killed (SIGKILL) in the middle of a job: the job runs again elsewhere and nothing is released twice.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import test from 'ava';
import { Queue } from 'bullmq';
import type { IPReleasedData } from '../events/catalogue.js';
import { enqueuePodCheck, GC_QUEUE, type GcJobData } from '../src/k8s/gc.js';
import { redisConnection } from '../src/k8s/redis.js';
import { AT, endpoint, openAllocator } from './helpers/alloc.js';
import { allEvents, FakeApiServer, freshQueuePrefix, pod, redisUrl, until } from './helpers/k8s.js';

const WORKER = new URL('./fixtures/gc-worker.js', import.meta.url).pathname;

function startWorker(args: string[], hang: boolean) {
  const child = spawn(process.execPath, [WORKER, ...args], { env: { ...process.env, HANG_AFTER_RELEASE: hang ? '1' : '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface(child.stdout).on('line', (l) => lines.push(l));
  return { child, lines, exited: new Promise((r) => child.once('exit', r)) };
}

test('a worker killed after its first release: the job is retried by another worker, each address released once', async (t) => {
  const fake = await FakeApiServer.start();
  const f = await openAllocator();
  const queuePrefix = freshQueuePrefix();
  const queue = new Queue<GcJobData>(GC_QUEUE, { connection: redisConnection(redisUrl()), prefix: queuePrefix });
  const kubeconfig = fake.kubeConfigFile();
  const kids: ReturnType<typeof startWorker>[] = [];
  t.teardown(async () => {
    for (const k of kids) k.child.kill('SIGKILL');
    await queue.close();
    await f.close();
    await fake.close();
  });
  await f.allocator.definePool('crash', { ipVersion: 4, subnet: '10.8.0.0/24', ips: ['10.8.0.10-10.8.0.50'] }, { at: AT });
  for (const nic of ['eth0', 'net1', 'net2']) await f.allocator.allocate({ endpoint: endpoint('victim', { nic }), pools: { ipv4: ['crash'] }, at: AT });
  fake.put(pod('victim'));
  fake.remove('v1', 'Pod', 'victim', 'default');

  const first = startWorker([f.prefix, queuePrefix, kubeconfig], true);
  kids.push(first);
  await until('first worker ready', () => first.lines.includes('ready'));
  await enqueuePodCheck(queue, { graceMs: 0 }, 'default', 'victim', f.allocator.revision);
  await until('first release committed', () => first.lines.some((l) => l.startsWith('released')), 20_000);
  first.child.kill('SIGKILL');
  await first.exited;

  const second = startWorker([f.prefix, queuePrefix, kubeconfig], false);
  kids.push(second);
  await until('job completed by the second worker', () => second.lines.some((l) => l.startsWith('completed')), 30_000);
  await f.allocator.sync();
  t.is(f.allocator.model.byId.size, 0, 'every address released');
  const released = (await allEvents(f.store)).filter((e) => e.event.type === 'IPReleased').map((e) => e.event.data as IPReleasedData);
  t.is(released.length, 3);
  t.is(new Set(released.map((d) => d.allocationId)).size, 3, 'none released twice');
  t.is(second.lines.filter((l) => l.startsWith('released')).length, 2, 'the retry released only what was left');
});

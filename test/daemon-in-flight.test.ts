// The daemon's bound on requests in flight: a timeout and "etcd unreachable" fail the waiting requests with a
// retryable 503, and nothing else. Pure unit test: no etcd involved.
import test from 'ava';
import { InFlight } from '../src/daemon/in-flight.js';
import { HttpError } from '../src/daemon/http.js';

function readiness() {
  const listeners = new Set<() => void>();
  return {
    onUnreachable: (cb: () => void) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    // Like Readiness: calls every listener once, then forgets them.
    lose: () => {
      const all = [...listeners];
      listeners.clear();
      for (const cb of all) cb();
    },
    get count() {
      return listeners.size;
    },
  };
}

const never = () => new Promise<never>(() => undefined);

test('work that answers in time passes through, value or error, and leaves nothing waiting', async (t) => {
  const r = readiness();
  const f = new InFlight(1000, r.onUnreachable, () => 'x');
  t.teardown(() => f.close());
  t.is(await f.run(Promise.resolve(7)), 7);
  await t.throwsAsync(f.run(Promise.reject(new Error('boom'))), { message: 'boom' });
});

test('work slower than the timeout fails with a retryable 503 Timeout; quicker work in flight is unaffected', async (t) => {
  const r = readiness();
  const f = new InFlight(100, r.onUnreachable, () => 'x');
  t.teardown(() => f.close());
  // The sweep timer is unref'd (the daemon's servers keep the process alive); here nothing else would.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  const quick = f.run(new Promise((ok) => setTimeout(() => ok('quick'), 20)));
  const started = performance.now();
  const e = await t.throwsAsync(f.run(never()));
  t.true(e instanceof HttpError);
  t.is((e as HttpError).status, 503);
  t.is((e as HttpError).code, 'Timeout');
  t.true((e as HttpError).retryable);
  const took = performance.now() - started;
  t.true(took >= 100 && took < 1000, `failed after ${took} ms`);
  t.is(await quick, 'quick');
});

test('etcd found unreachable fails every waiting request at once, and the next requests are watched again', async (t) => {
  const r = readiness();
  const f = new InFlight(60_000, r.onUnreachable, () => 'etcd unreachable: no answer');
  t.teardown(() => f.close());
  const a = f.run(never());
  const b = f.run(never());
  t.is(r.count, 1, 'one listener for all requests');
  r.lose();
  for (const p of [a, b]) {
    const e = await t.throwsAsync(p);
    t.is((e as HttpError).code, 'EtcdUnavailable');
    t.regex((e as HttpError).message, /no answer/);
  }
  const c = f.run(never());
  t.is(r.count, 1, 'listening again after readiness forgot the first listener');
  r.lose();
  await t.throwsAsync(c);
});

// A read of the past chooses its start (the horizon checkpoint) and then reads the log; the maintainer may move the
// horizon in between. retryWhileHorizonMoves starts such a read again when the horizon moved under it, and answers
// when the point asked for is itself before the horizon (410 Expired in the Kubernetes-style API).
import test from 'ava';
import { ArchiveRequired, retryWhileHorizonMoves } from '../src/lifecycle/log-source.js';
import { BeforeHorizon } from '../src/store/errors.js';

/** A read failing with each error in turn, then answering 'ok'; counts its attempts. */
function failing(...errors: Error[]) {
  const read = async () => {
    read.attempts++;
    const e = errors.shift();
    if (e) throw e;
    return 'ok';
  };
  read.attempts = 0;
  return read;
}

test('a horizon that moved to a revision not after the point asked for is read again from the new start', async (t) => {
  const read = failing(new ArchiveRequired(2850), new BeforeHorizon(2850, 2860));
  t.is(await retryWhileHorizonMoves(2865, read), 'ok');
  t.is(read.attempts, 3);
  const atTheHorizon = failing(new ArchiveRequired(2865));
  t.is(await retryWhileHorizonMoves(2865, atTheHorizon), 'ok');
});

test('a point before the horizon is the answer at once: ArchiveRequired is not retried', async (t) => {
  const read = failing(new ArchiveRequired(2900));
  await t.throwsAsync(retryWhileHorizonMoves(2865, read), { instanceOf: ArchiveRequired });
  t.is(read.attempts, 1);
});

test('a horizon that keeps moving is given up after 3 attempts, with its error; other errors are not retried', async (t) => {
  const moving = failing(new BeforeHorizon(1, 2), new BeforeHorizon(2, 3), new BeforeHorizon(3, 4), new BeforeHorizon(4, 5));
  await t.throwsAsync(retryWhileHorizonMoves(10, moving), { instanceOf: BeforeHorizon });
  t.is(moving.attempts, 3);
  const other = failing(new Error('etcd gone'));
  await t.throwsAsync(retryWhileHorizonMoves(10, other), { message: 'etcd gone' });
  t.is(other.attempts, 1);
});

test('a point in time (no revision): ArchiveRequired is retried, a bounded number of times', async (t) => {
  const read = failing(new ArchiveRequired(100), new ArchiveRequired(120), new ArchiveRequired(140));
  await t.throwsAsync(retryWhileHorizonMoves(undefined, read), { instanceOf: ArchiveRequired });
  t.is(read.attempts, 3);
});

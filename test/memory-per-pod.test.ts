// What a live pod costs in memory: the heap the allocator model and the projections hold per live dual-stack pod
// after a full GC (bench/memory/worker.ts: a synthetic log of pods coming and going, through the store's record
// encoding, applied as a daemon applies it), each in a fresh process. Bounds, not timings: ~15-20% above today's
// figures at this size (10,000 live pods: model 1,138, tracked projections 1,437, both 2,029 bytes per pod), below
// the old model's (a Set per container, pushed arrays, rope keys: 1,566 bytes per pod at 30,000). The pool index's
// holders keep the event's endpoint object (shared with the model): together cheaper, the projections alone not.
import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const WORKER = fileURLToPath(new URL('../bench/memory/worker.js', import.meta.url));

interface Held {
  readonly pods: number;
  readonly heldBytes: number;
  readonly bytesPerPod: number;
}

async function held(part: 'model' | 'projections' | 'all', mode = ''): Promise<Held> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', WORKER, part, '30000', '10000', mode], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as Held;
}

/** Bytes per live dual-stack pod (two allocations), after a full GC. */
const MODEL_BOUND = 1_350;
const PROJECTIONS_BOUND = 1_650;
const BOTH_BOUND = 2_450;

test('the allocator model holds at most 1,350 heap bytes per live dual-stack pod', async (t) => {
  const m = await held('model');
  t.true(m.pods >= 9_900, `${m.pods} live pods`);
  t.true(m.bytesPerPod <= MODEL_BOUND, `${m.bytesPerPod} bytes per pod`);
});

test('the projections (with changes tracked, as a live daemon runs them) hold at most 1,650 heap bytes per live pod', async (t) => {
  const p = await held('projections', 'track');
  t.true(p.pods >= 9_900, `${p.pods} live pods`);
  t.true(p.bytesPerPod <= PROJECTIONS_BOUND, `${p.bytesPerPod} bytes per pod`);
});

test('model and projections together, sharing the decoded strings as a daemon does: at most 2,450 bytes per live pod', async (t) => {
  const all = await held('all');
  t.true(all.bytesPerPod <= BOTH_BOUND, `${all.bytesPerPod} bytes per pod`);
});

// A full, compacting garbage collection once a daemon has caught up with the log. A cold start allocates fast
// (every event decoded, applied, most of it garbage at once) and V8's old generation grows with that rate; once
// caught up the rate drops to the log's, but the heap keeps its grown size (half-empty pages, range responses not yet
// collected) until the memory reducer gets to it, which hands back few pages. One collection at the end of the
// catch-up, before anything is served, frees them at once (100,000 pods: 457 -> 380 MB RSS, ~0.4 CPU-s); while it
// evacuates the old generation the RSS peaks once more by about its live size (`bench daemon-memory`, bench/README.md).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = () => void;

/** `compact`: collect and evacuate every old-generation page; `gc`: collect (V8's own compaction choice); `none`. */
export const SETTLE_HEAP_MODES = ['compact', 'gc', 'none'] as const;
export type SettleHeapMode = (typeof SETTLE_HEAP_MODES)[number];

let collect: Gc | undefined;

/** V8's gc() without starting Node with --expose-gc: a context made while the flag is on has it (the global does not). */
function gcFunction(): Gc {
  const exposed = (globalThis as { gc?: Gc }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Gc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** IPAM_SETTLE_HEAP (compact, gc, none; default compact): what a daemon does once caught up. */
export function settleHeapMode(env: string | undefined = process.env.IPAM_SETTLE_HEAP): SettleHeapMode {
  if (env === undefined || env === '') return 'compact';
  if ((SETTLE_HEAP_MODES as readonly string[]).includes(env)) return env as SettleHeapMode;
  throw new Error(`IPAM_SETTLE_HEAP=${JSON.stringify(env)}: expected one of ${SETTLE_HEAP_MODES.join(', ')}`);
}

/** Collects what is unreachable now (and, `compact`, compacts the old generation); returns the milliseconds it took. */
export function settleHeap(mode: SettleHeapMode = settleHeapMode()): number {
  if (mode === 'none') return 0;
  const t0 = performance.now();
  collect ??= gcFunction();
  // Only for this one collection: V8 reads the flag when it starts a full GC.
  if (mode === 'compact') setFlagsFromString('--compact-on-every-full-gc');
  try {
    collect();
  } finally {
    if (mode === 'compact') setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return performance.now() - t0;
}

// The projections rebuilt from etcd (checkpoint, then the log after it): loaded only by commands that read etcd.
import { loadAll } from '../../../projections/checkpoint.js';
import { ALL_PROJECTIONS } from '../../../projections/index.js';
import { readModelOf, replay } from '../../../projections/runtime.js';
import type { ReadModel } from '../../../projections/read-model.js';
import { openDirect, type GlobalOptions } from '../connection.js';
import { progress } from '../progress.js';

/** Rebuilds the projections from etcd: the newest checkpoint, then the log after it. */
export async function directReadModel(g: GlobalOptions, until?: number, asOf?: Date): Promise<ReadModel> {
  const d = await openDirect(g);
  try {
    const cp = until === undefined && asOf === undefined ? await loadAll(d.store, ALL_PROJECTIONS) : undefined;
    const bar = progress('replay', 0);
    const states = await replay(d.store, ALL_PROJECTIONS, {
      ...(cp ? { from: cp } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(asOf ? { asOf } : {}),
      onProgress: (_rev, n) => bar.update(n),
    });
    bar.stop();
    return readModelOf(states);
  } finally {
    await d.close();
  }
}

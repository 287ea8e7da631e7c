// The projections rebuilt from etcd (and the archive before the horizon): loaded only by commands that read etcd.
import { ArchiveDir } from '../../lifecycle/archive.js';
import { replayStart, retryWhileHorizonMoves } from '../../lifecycle/log-source.js';
import { ALL_PROJECTIONS } from '../../../projections/index.js';
import { readModelOf, replay } from '../../../projections/runtime.js';
import type { ReadModel } from '../../../projections/read-model.js';
import { openDirect, type GlobalOptions } from '../connection.js';
import { progress } from '../progress.js';

/** Rebuilds the projections: the best starting checkpoint, then the log after it (archive + etcd), again if the horizon moves under it. */
export async function directReadModel(g: GlobalOptions, until?: number, asOf?: Date, archiveDir?: string): Promise<ReadModel> {
  const d = await openDirect(g);
  try {
    const archive = archiveDir === undefined ? undefined : new ArchiveDir(archiveDir, g.prefix);
    const states = await retryWhileHorizonMoves(until, async () => {
      const { from, pages } = await replayStart(d.store, archive, { ...(until !== undefined ? { until } : {}), ...(asOf ? { asOf } : {}) }, ALL_PROJECTIONS);
      const bar = progress('replay', 0);
      try {
        return await replay(d.store, ALL_PROJECTIONS, {
          ...(from ? { from } : {}),
          pages,
          ...(until !== undefined ? { until } : {}),
          ...(asOf ? { asOf } : {}),
          onProgress: (_rev, n) => bar.update(n),
        });
      } finally {
        bar.stop();
      }
    });
    return readModelOf(states);
  } finally {
    await d.close();
  }
}

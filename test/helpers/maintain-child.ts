// A maintaining process for the kill -9 test: runs one maintenance pass and, at the step named by STOP_AT (its
// STOP_COUNT-th occurrence), says so on stdout and hangs there until the test kills it.
import { ALL_PROJECTIONS } from '../../projections/index.js';
import { ArchiveDir } from '../../src/lifecycle/archive.js';
import { Maintainer } from '../../src/lifecycle/maintainer.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore } from '../../src/store/event-store.js';
import { MaintenanceLease } from '../../src/store/lease.js';
import { fastPolicy } from './lifecycle.js';

const env = process.env;
const client = openEtcd({ endpoints: env.ETCD_ENDPOINTS!.split(',') });
const store = new EventStore(client, { prefix: env.PREFIX! });
await store.open();
const lease = new MaintenanceLease(client, store.keys, `child-${process.pid}`, 2);
let seen = 0;
const m = new Maintainer({
  store,
  archive: new ArchiveDir(env.DIR!, env.PREFIX!),
  lease,
  projections: ALL_PROJECTIONS,
  policy: fastPolicy({ segmentRecords: Number(env.SEGMENT_RECORDS ?? 10) }),
  onStep: async (step) => {
    if (step !== env.STOP_AT || ++seen !== Number(env.STOP_COUNT ?? 1)) return;
    process.stdout.write(`paused at ${step}\n`);
    await new Promise(() => undefined);
  },
});
await m.runOnce();
process.stdout.write('finished\n');
process.exit(0);

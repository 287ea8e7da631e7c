// Retention keeps the engine inside a 64 MiB etcd quota under sustained churn (bench soak's churn: 2,000 live pods,
// every cycle a new pod allocated and the oldest released, with the maintainer archiving beside it): no NOSPACE, no
// alarm, the db never near the quota, and the whole log (archive + etcd) still consistent. Without retention the same
// churn writes ~1.4 KB per cycle, so it reaches 64 MiB after ~45,000 cycles (test/quota-nospace covers that side).
// IPAM_QUOTA_SOAK_CYCLES sets the cycles (default 300,000, the run: ~6x the quota written, 3-5 min; the same
// churn with the footprint printed is `npm run bench -- soak --cycles 300000 --etcd-quota 64MiB`).
import test from 'ava';
import { runSoak, soakPolicy } from '../bench/soak.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { openEtcd } from '../src/store/connect.js';

const QUOTA = 64 * 1024 * 1024;
const CYCLES = Number(process.env.IPAM_QUOTA_SOAK_CYCLES ?? 300_000);

test(`64 MiB quota: ${CYCLES} churn cycles with retention on complete without NOSPACE`, async (t) => {
  t.timeout(900_000);
  const etcd = await LocalEtcd.start({ extraArgs: [`--quota-backend-bytes=${QUOTA}`] });
  t.teardown(() => etcd.stop());
  const lines: string[] = [];
  // runSoak throws on the first refused allocation or release (EtcdNoSpace names the alarm).
  const r = await runSoak({ endpoints: etcd.endpoints, cycles: CYCLES, live: 2_000, concurrency: 64, policy: soakPolicy(), compactKeep: 100, checks: 'log', progress: (l) => lines.push(l) });
  const raw = openEtcd({ endpoints: etcd.endpoints });
  t.teardown(() => raw.close());
  t.deepEqual((await raw.maintenance.status()).errors ?? [], [], 'no alarm raised (etcd status names none, NOSPACE included)');
  const peak = Math.max(...r.footprint.map((f) => f.dbSizeMB));
  t.log(r.footprint.map((f) => `${f.cycles}: db ${f.dbSizeMB} MB, ${f.keys} keys, horizon ${f.horizon} of ${f.revision}, ${f.cyclesPerSec} cycles/s`).join('\n'));
  // The peak is set by the first 10% (30,000 cycles, no maintenance: the soak's baseline); 52-61.5 MB seen, flat after.
  t.true(peak * 1e6 < QUOTA, `db peak ${peak} MB stays under the 64 MiB quota`);
  t.is(r.maintenance.failures, 0, r.maintenance.firstError ?? '');
  t.true(r.maintenance.moves >= 5 && r.maintenance.tagsDeleted > CYCLES / 2, `the horizon moved (${r.maintenance.moves} times) and tags went (${r.maintenance.tagsDeleted})`);
  t.is(r.invariants.duplicates, 0);
  t.is(r.invariants.badReleases, 0);
  t.is(r.invariants.events, 2 * CYCLES - 2_000 + 1, 'every allocation and release (and the pool) is in archive + etcd');
  t.is(lines.length > 0, true);
});

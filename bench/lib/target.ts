// Where a scenario runs: the etcd given in ETCD_ENDPOINTS / --etcd, or a fresh local one (1 or 3 members).
import { LocalEtcd } from '../../src/local/etcd.js';

export interface Target {
  readonly endpoints: string[];
  readonly members: number;
  close(): Promise<void>;
}

export async function openTarget(opts: { etcd?: string; etcdCluster?: number; etcdDataDir?: string }): Promise<Target> {
  const given = opts.etcd ?? process.env.ETCD_ENDPOINTS;
  if (given) return { endpoints: given.split(','), members: given.split(',').length, close: async () => undefined };
  // The data dir's filesystem decides etcd's fsync latency (e.g. /dev/shm to take a slow disk out of a measurement).
  const etcd = await LocalEtcd.start({ members: opts.etcdCluster ?? 1, ...(opts.etcdDataDir ? { baseDir: opts.etcdDataDir } : {}) });
  return { endpoints: etcd.endpoints, members: etcd.members.length, close: () => etcd.stop() };
}

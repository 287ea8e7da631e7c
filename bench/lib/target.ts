// Where a scenario runs: the etcd given in ETCD_ENDPOINTS / --etcd, or a fresh local one (1 or 3 members).
import { tmpdir } from 'node:os';
import { LocalEtcd } from '../../src/local/etcd.js';

export interface Target {
  readonly endpoints: string[];
  readonly members: number;
  /** Process ids of local etcd members (none for an etcd given by endpoints). */
  readonly pids: readonly number[];
  /** Where a local etcd keeps its data (its filesystem decides the fsync latency); none for a given etcd. */
  readonly dataDir?: string;
  close(): Promise<void>;
}

export async function openTarget(opts: { etcd?: string; etcdCluster?: number; etcdDataDir?: string; etcdArgs?: readonly string[]; etcdFlags?: string }): Promise<Target> {
  const given = opts.etcd ?? process.env.ETCD_ENDPOINTS;
  if (given) return { endpoints: given.split(','), members: given.split(',').length, pids: [], close: async () => undefined };
  // The data dir's filesystem decides etcd's fsync latency (e.g. /dev/shm to take a slow disk out of a measurement).
  const extraArgs = [...(opts.etcdFlags ?? '').split(/\s+/).filter(Boolean), ...(opts.etcdArgs ?? [])];
  const etcd = await LocalEtcd.start({ members: opts.etcdCluster ?? 1, ...(opts.etcdDataDir ? { baseDir: opts.etcdDataDir } : {}), extraArgs });
  const pids = etcd.members.map((m) => m.pid).filter((p): p is number => p !== undefined);
  return { endpoints: etcd.endpoints, members: etcd.members.length, pids, dataDir: opts.etcdDataDir ?? tmpdir(), close: () => etcd.stop() };
}

// Whether etcd's NOSPACE alarm is raised. etcd's Status lists the cluster's active alarms in `errors`; where Status is
// refused (an etcd that restricts it), the store's last write answer stands in (a commit clears it).
import type { Etcd3 } from 'etcd3';
import { EtcdNoSpace } from './errors.js';

export interface NoSpaceState {
  readonly client: Etcd3;
  readonly noSpace: EtcdNoSpace | undefined;
  clearNoSpace(): void;
}

/** The EtcdNoSpace the doors answer while the alarm is raised; undefined once it is disarmed. */
export async function noSpaceAlarm(store: NoSpaceState): Promise<EtcdNoSpace | undefined> {
  let alarms: readonly string[];
  try {
    alarms = (await store.client.maintenance.status()).errors ?? [];
  } catch {
    return store.noSpace;
  }
  if (alarms.some((a) => a.includes('alarm:NOSPACE'))) return store.noSpace ?? new EtcdNoSpace();
  store.clearNoSpace(); // disarmed: the next write will tell if etcd still refuses it
  return undefined;
}

// `ipam alloc` and `ipam release`: one allocation or release, through the daemon or straight on etcd.
import { ReleaseReason } from '../../../events/catalogue.js';
import type { Allocation } from '../../alloc/types.js';
import { CliError, daemonClient, openDirectAllocator, wantsDirect, type GlobalOptions } from '../connection.js';
import { formatTable } from '../resources.js';

export interface AllocOptions {
  readonly pod: string;
  readonly containerId: string;
  readonly uid?: string;
  readonly nic?: string;
  readonly node?: string;
  readonly ipv4Pool?: string[];
  readonly ipv6Pool?: string[];
  readonly output?: 'json';
}

function splitPod(pod: string, flag: string): { namespace: string; name: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(pod);
  if (!m) throw new CliError(`${flag} ${pod}: expected NAMESPACE/NAME`);
  return { namespace: m[1]!, name: m[2]! };
}

function print(allocations: readonly Allocation[], extra: string, json: boolean, revision: number): void {
  if (json) return void process.stdout.write(JSON.stringify({ allocations, revision }, null, 2) + '\n');
  if (allocations.length === 0) return void process.stdout.write(`nothing ${extra}\n`);
  const rows = [['POD', 'INTERFACE', 'POOL', 'ADDRESS', 'GATEWAY', 'ALLOCATION'], ...allocations.map((a) => [`${a.endpoint.namespace}/${a.endpoint.name}`, a.endpoint.nic, a.pool, `${a.address}/${a.prefixLength}`, a.gateway ?? '<none>', a.allocationId])];
  process.stdout.write(formatTable(rows));
  process.stderr.write(`${extra} at revision ${revision}\n`);
}

export async function alloc(g: GlobalOptions, o: AllocOptions): Promise<void> {
  const { namespace, name } = splitPod(o.pod, '--pod');
  const pools = { ...(o.ipv4Pool?.length ? { ipv4: o.ipv4Pool } : {}), ...(o.ipv6Pool?.length ? { ipv6: o.ipv6Pool } : {}) };
  const body = {
    endpoint: { namespace, name, containerID: o.containerId, ...(o.uid ? { uid: o.uid } : {}), ...(o.nic ? { nic: o.nic } : {}), ...(o.node ? { node: o.node } : {}) },
    ...(Object.keys(pools).length ? { pools } : {}),
  };
  if (wantsDirect(g)) {
    const [{ parseAllocateBody }, { allocationView }] = await Promise.all([import('../../daemon/allocate-body.js'), import('../../alloc/model.js')]);
    const req = parseAllocateBody(body, { node: o.node ?? 'cli', at: new Date().toISOString() });
    const d = await openDirectAllocator(g);
    try {
      const r = await d.allocator.allocate(req);
      print(r.allocations.map(allocationView), r.reused ? 'already allocated' : 'allocated', o.output === 'json', r.revision);
    } finally {
      await d.close();
    }
    return;
  }
  const r = await daemonClient(g).send<{ allocations: Allocation[]; reused: boolean; revision: number }>('POST', '/v1/allocations', body);
  print(r.body.allocations, r.body.reused ? 'already allocated' : 'allocated', o.output === 'json', r.body.revision);
}

export interface ReleaseOptions {
  readonly containerId?: string;
  readonly nic?: string;
  readonly pod?: string;
  readonly uid?: string;
  readonly output?: 'json';
}

export async function release(g: GlobalOptions, o: ReleaseOptions): Promise<void> {
  if (!o.containerId && !o.pod) throw new CliError('give --container-id ID (what CNI DEL releases) or --pod NAMESPACE/NAME');
  const body = o.containerId
    ? { containerID: o.containerId, ...(o.nic ? { nic: o.nic } : {}) }
    : { ...splitPod(o.pod!, '--pod'), ...(o.uid ? { uid: o.uid } : {}), reason: ReleaseReason.Admin };
  if (wantsDirect(g)) {
    const [{ parseReleaseBody }, { allocationView }] = await Promise.all([import('../../daemon/allocate-body.js'), import('../../alloc/model.js')]);
    const b = parseReleaseBody(body);
    const d = await openDirectAllocator(g);
    try {
      const at = new Date().toISOString();
      const r = 'containerID' in b ? await d.allocator.releaseContainer(b.containerID, b.nic, at) : await d.allocator.releasePod(b.namespace, b.name, b.uid, b.reason, at);
      print(r.released.map(allocationView), 'released', o.output === 'json', r.revision);
    } finally {
      await d.close();
    }
    return;
  }
  const r = await daemonClient(g).send<{ released: Allocation[]; revision: number }>('POST', '/v1/releases', body);
  print(r.body.released, 'released', o.output === 'json', r.body.revision);
}

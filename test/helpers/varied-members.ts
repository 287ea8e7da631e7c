// Deterministic, varied members for the record codec (a seeded generator: the same list on every run and build):
// IPAllocated in every shape layout 1 covers (v4/v6, owner or not, gateway, vlan, routes), IPReleased, events only
// layout 0 takes (other types, extra fields, another key order, another version), strings needing JSON escapes and
// non-ASCII, strings repeated within and across events, and members with more distinct strings than a short scan.
import type { EventEnvelope } from '../../events/envelope.js';
import { seededRandom as prng } from '../../bench/lib/open-loop.js';

const ODD = ['plain', 'quote"d', 'back\\slash', 'tab\there', 'nl\nx', 'ctl\u0001', 'é-ünï', '日本', '\u2028sep', 'emoji😀', ''];

export function variedMembers(count: number, seed = 17): EventEnvelope[][] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (n: number) => Math.floor(r() * n);
  const word = () => (r() < 0.15 ? pick(ODD) : `w${int(1000)}`);
  const members: EventEnvelope[][] = [];
  for (let m = 0; m < count; m++) {
    const ns = r() < 0.7 ? 'default' : `ns-${word()}`;
    const pod = `pod-${int(100000)}${r() < 0.1 ? word() : ''}`;
    const nic = r() < 0.8 ? 'eth0' : `net${int(4)}`;
    const n = 1 + int(r() < 0.8 ? 1 : 4);
    const events: EventEnvelope[] = [];
    for (let k = 0; k < n; k++) {
      const v6 = r() < 0.3;
      const address = v6 ? `fd00::${int(65536).toString(16)}` : `10.${int(256)}.${int(256)}.${int(256)}`;
      const id = `${String(int(1e9)).padStart(10, '0')}-${int(1e6).toString(16)}-${m}-${k}`;
      const at = r() < 0.9 ? '2026-12-01T19:00:00Z' : `2026-12-01T19:${String(int(60)).padStart(2, '0')}:00.${int(1000)}Z`;
      const tags = [`ip:default/${address}`, `ep:${ns}/${pod}/${nic}`, 'pool:p1', ...(r() < 0.1 ? Array.from({ length: 10 + int(20) }, () => `t:${word()}`) : [])];
      const endpoint: Record<string, unknown> = { namespace: ns, name: pod, uid: `uid-${pod}`, containerID: `c-${m}`, node: `node-${int(5)}`, nic };
      if (r() < 0.6) endpoint.owner = { kind: pick(['ReplicaSet', 'StatefulSet', 'VirtualMachineInstance']), name: `o-${word()}` };
      const kind = r();
      if (kind < 0.6) {
        const data: Record<string, unknown> = { allocationId: `a-${id}`, pool: r() < 0.8 ? 'p1' : `p-${word()}`, ipVersion: v6 ? 6 : 4, address, prefixLength: v6 ? 64 : 16 + int(16), endpoint };
        if (r() < 0.5) data.gateway = v6 ? 'fd00::1' : '10.0.0.1';
        if (r() < 0.2) data.vlan = int(4095);
        if (r() < 0.2) data.routes = Array.from({ length: int(4) }, () => ({ dst: `10.${int(256)}.0.0/16`, gw: '10.0.0.1' }));
        if (r() < 0.05) data.adoptedFrom = 'whereabouts'; // not a layout-1 shape: layout 0
        events.push(r() < 0.04 ? { type: 'IPAllocated', id, v: 2, at, tags, data } : { id, type: 'IPAllocated', v: r() < 0.03 ? 1 : 2, at, tags, data });
      } else if (kind < 0.9) {
        const data = { allocationId: `a-${id}`, pool: 'p1', address, reason: pick(['released', 'pod deleted', word()]), endpoint: { namespace: ns, name: pod, nic, containerID: `c-${m}` } };
        events.push({ id, type: 'IPReleased', v: 1, at, tags, data });
      } else {
        events.push({ id, type: pick(['PoolDefined', 'IPReserved', 'SubnetDefined']), v: 1, at, tags, data: { name: word(), spec: { cidr: '10.0.0.0/16', note: word(), n: int(10), list: [word(), word()] } } });
      }
    }
    members.push(events);
  }
  return members;
}

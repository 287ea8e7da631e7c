// Regression: on Node 20's V8 a literal that starts with a spread (`{ ...d, value }`) gives every object a hidden
// class of its own once the site is warm; the model once built every allocation record that way (a map per
// allocation, megamorphic reads). Records decoded from the log must share one hidden class.
import test from 'ava';
import { setFlagsFromString } from 'node:v8';
import { createCodec } from '../events/codec.js';
import { AllocatorModel } from '../src/alloc/model.js';

setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set; %HaveSameMap is V8's own answer to "do these two objects share a hidden class".
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

test('allocation records decoded from the log share one hidden class', (t) => {
  const codec = createCodec();
  const m = new AllocatorModel();
  const at = '2026-11-23T12:00:00Z';
  m.apply(codec.decode({ id: 'p1', type: 'PoolDefined', v: 1, at, tags: ['poolcfg:p'], data: { name: 'p', spec: { ipVersion: 4, subnet: '10.9.0.0/16', ips: ['10.9.0.1-10.9.0.250'] } } }, 'k'), 1);
  for (let i = 1; i <= 200; i++) {
    const address = `10.9.0.${i}`;
    const raw = JSON.parse(
      JSON.stringify({
        id: `a${i}`,
        type: 'IPAllocated',
        v: 1,
        at,
        tags: [`ip:default/${address}`, `ep:ns/p${i}/eth0`, 'pool:p'],
        data: { allocationId: `a${i}`, pool: 'p', ipVersion: 4, address, prefixLength: 16, endpoint: { namespace: 'ns', name: `p${i}`, uid: `u${i}`, containerID: `c${i}`, node: 'n', nic: 'eth0' } },
      }),
    );
    m.apply(codec.decode(raw, `k${i}`), i + 1);
  }
  t.deepEqual(m.problems, []);
  const recs = [...m.byId.values()];
  t.is(recs.length, 200);
  const shared = recs.filter((r) => haveSameMap(r, recs[recs.length - 1]!)).length;
  t.is(shared, recs.length, `${shared} of ${recs.length} records share the last one's hidden class`);
});

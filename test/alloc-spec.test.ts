import test, { type ExecutionContext } from 'ava';
import type { PoolSpec } from '../events/catalogue.js';
import { compilePool, compileSubnet, describeOverlap, poolFitsSubnet, poolsOverlap, validateName } from '../src/alloc/spec.js';
import { InputError } from '../src/net/errors.js';
import { MAX_POOL_ADDRESSES } from '../src/net/offset-map.js';

type Spec = Record<string, unknown>;

const base: Spec = {
  ipVersion: 4,
  subnet: '10.6.0.0/16',
  ips: ['10.6.0.10-10.6.0.20', '10.6.0.30'],
  excludeIPs: ['10.6.0.15'],
  gateway: '10.6.0.1',
  vlan: 100,
  routes: [{ dst: '172.16.0.0/12', gw: '10.6.0.1' }],
};
const v6: Spec = { ipVersion: 6, subnet: 'fd00:6::/64', ips: ['fd00:6::10-fd00:6::20'] };
const withSpec = (patch: Spec): Spec => ({ ...base, ...patch });
const pool = (spec: Spec, name = 'p1') => compilePool(name, spec, { strict: true }).pool;

function throwsAt(t: ExecutionContext, fn: () => unknown, field: string, reason?: string | RegExp): void {
  const e = t.throws(fn, { instanceOf: InputError });
  if (e === undefined) return;
  t.is(e.field, field, e.message);
  if (typeof reason === 'string') t.is(e.reason, reason);
  else if (reason !== undefined) t.regex(e.reason, reason);
}

// --- validation: every rule blames its exact field -------------------------------------------------------------

const invalidPools: readonly [string, Spec | unknown, string, (string | RegExp)?][] = [
  ['a spec that is an array', [], 'spec', /must be a SpiderIPPool spec object/],
  ['no ipVersion', withSpec({ ipVersion: undefined }), 'spec.ipVersion', /required/],
  ['ipVersion 5', withSpec({ ipVersion: 5 }), 'spec.ipVersion', /4 or 6/],
  ['ipVersion "4" as a string', withSpec({ ipVersion: '4' }), 'spec.ipVersion'],
  ['no subnet', withSpec({ subnet: undefined }), 'spec.subnet', /required/],
  ['a subnet with host bits', withSpec({ subnet: '10.6.0.5/16' }), 'spec.subnet', '10.6.0.5/16 has host bits set; did you mean 10.6.0.0/16?'],
  ['an IPv6 subnet in an IPv4 pool', withSpec({ subnet: 'fd00::/64' }), 'spec.subnet', /IPv6 but ipVersion is 4/],
  ['a subnet without a prefix', withSpec({ subnet: '10.6.0.0' }), 'spec.subnet', /not a CIDR/],
  ['no ips', withSpec({ ips: undefined }), 'spec.ips', /required/],
  ['empty ips', withSpec({ ips: [] }), 'spec.ips', /at least one/],
  ['ips as a string', withSpec({ ips: '10.6.0.10' }), 'spec.ips', /list of strings/],
  ['a number in ips', withSpec({ ips: [42] }), 'spec.ips[0]', /must be a string/],
  ['a malformed third ips entry', withSpec({ ips: ['10.6.0.10', '10.6.0.11', '10.6.0.x'] }), 'spec.ips[2]'],
  ['a third ips entry outside the subnet', withSpec({ ips: ['10.6.0.10', '10.6.0.11', '10.7.0.1'] }), 'spec.ips[2]', '10.7.0.1 is not inside spec.subnet 10.6.0.0/16'],
  ['an ips range reaching outside the subnet', withSpec({ ips: ['10.6.255.250-10.7.0.5'] }), 'spec.ips[0]', /\(10\.7\.0\.0 is not\)/],
  ['an IPv6 address in IPv4 ips', withSpec({ ips: ['10.6.0.10', 'fd00::1'] }), 'spec.ips[1]', /IPv6 but ipVersion is 4/],
  ['a CIDR in ips', withSpec({ ips: ['10.6.0.0/24'] }), 'spec.ips[0]', /CIDR suffix/],
  ['a reversed ips range', withSpec({ ips: ['10.6.0.20-10.6.0.10'] }), 'spec.ips[0]', /after end/],
  ['excludeIPs outside the subnet', withSpec({ excludeIPs: ['10.6.0.15', '10.9.0.1'] }), 'spec.excludeIPs[1]', /not inside spec.subnet/],
  ['a gateway outside the subnet', withSpec({ gateway: '10.7.0.1' }), 'spec.gateway', '10.7.0.1 is not inside spec.subnet 10.6.0.0/16'],
  ['an IPv6 gateway', withSpec({ gateway: 'fd00::1' }), 'spec.gateway', /IPv6/],
  ['a numeric gateway', withSpec({ gateway: 167_116_801 }), 'spec.gateway', /must be a string/],
  ['vlan 4095', withSpec({ vlan: 4095 }), 'spec.vlan', /0 to 4094/],
  ['vlan -1', withSpec({ vlan: -1 }), 'spec.vlan'],
  ['vlan 1.5', withSpec({ vlan: 1.5 }), 'spec.vlan'],
  ['vlan "10"', withSpec({ vlan: '10' }), 'spec.vlan'],
  ['routes as an object', withSpec({ routes: { dst: '1.0.0.0/8' } }), 'spec.routes', /array/],
  ['a route that is a string', withSpec({ routes: ['1.0.0.0/8'] }), 'spec.routes[0]', /route/],
  ['a route without dst', withSpec({ routes: [{ gw: '10.6.0.1' }] }), 'spec.routes[0].dst', /required/],
  ['an IPv6 route dst', withSpec({ routes: [{ dst: 'fd00::/8', gw: '10.6.0.1' }] }), 'spec.routes[0].dst', /IPv6/],
  ['a route dst with host bits', withSpec({ routes: [{ dst: '172.16.0.0/12', gw: '10.6.0.1' }, { dst: '192.168.1.1/24', gw: '10.6.0.1' }] }), 'spec.routes[1].dst', /did you mean 192\.168\.1\.0\/24\?/],
  ['a default route', withSpec({ routes: [{ dst: '0.0.0.0/0', gw: '10.6.0.1' }] }), 'spec.routes[0].dst', /set spec.gateway instead/],
  ['a duplicate route dst', withSpec({ routes: [{ dst: '172.16.0.0/12', gw: '10.6.0.1' }, { dst: '172.16.0.0/12', gw: '10.6.0.2' }] }), 'spec.routes[1].dst', /already routed by spec.routes\[0\]/],
  ['a route without gw', withSpec({ routes: [{ dst: '172.16.0.0/12' }] }), 'spec.routes[0].gw', /required/],
  ['a route gw outside the subnet', withSpec({ routes: [{ dst: '172.16.0.0/12', gw: '10.9.0.1' }] }), 'spec.routes[0].gw', /not inside spec.subnet/],
  ['an IPv6 route gw', withSpec({ routes: [{ dst: '172.16.0.0/12', gw: 'fd00::1' }] }), 'spec.routes[0].gw', /IPv6/],
  ['a namespaceAffinity that is a string', withSpec({ namespaceAffinity: 'app=x' }), 'spec.namespaceAffinity', /label selector/],
  ['a bad operator', withSpec({ namespaceAffinity: { matchExpressions: [{ key: 'a', operator: 'Exists' }, { key: 'b', operator: 'Equals', values: ['x'] }] } }), 'spec.namespaceAffinity.matchExpressions[1].operator', /In, NotIn, Exists, DoesNotExist/],
  ['In without values', withSpec({ nodeAffinity: { matchExpressions: [{ key: 'zone', operator: 'In', values: [] }] } }), 'spec.nodeAffinity.matchExpressions[0].values', /at least one value/],
  ['NotIn without values', withSpec({ nodeAffinity: { matchExpressions: [{ key: 'zone', operator: 'NotIn' }] } }), 'spec.nodeAffinity.matchExpressions[0].values'],
  ['Exists with values', withSpec({ podAffinity: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] } }), 'spec.podAffinity.matchExpressions[0].values', /must be empty/],
  ['an expression without key', withSpec({ podAffinity: { matchExpressions: [{ operator: 'Exists' }] } }), 'spec.podAffinity.matchExpressions[0].key'],
  ['a non-string matchLabels value', withSpec({ podAffinity: { matchLabels: { app: 1 } } }), 'spec.podAffinity.matchLabels.app', /string/],
  ['an invalid label key', withSpec({ podAffinity: { matchLabels: { 'bad key': 'x' } } }), 'spec.podAffinity.matchLabels["bad key"]', /not a valid label key/],
  ['an invalid label value', withSpec({ podAffinity: { matchLabels: { app: 'a b' } } }), 'spec.podAffinity.matchLabels.app', /not a valid label value/],
  ['namespaceName as a string', withSpec({ namespaceName: 'default' }), 'spec.namespaceName', /list of strings/],
  ['an empty nodeName entry', withSpec({ nodeName: ['n1', ''] }), 'spec.nodeName[1]', /must not be empty/],
  ['a numeric multusName entry', withSpec({ multusName: [3] }), 'spec.multusName[0]', /must be a string/],
  ['default "yes"', withSpec({ default: 'yes' }), 'spec.default', /true or false/],
  ['disable 1', withSpec({ disable: 1 }), 'spec.disable', /true or false/],
  ['an empty scope', withSpec({ scope: '' }), 'spec.scope', /must not be empty/],
  ['a scope with a slash', withSpec({ scope: 'a/b' }), 'spec.scope', /"\/"/],
  ['a numeric scope', withSpec({ scope: 5 }), 'spec.scope', /string/],
];

for (const [what, spec, field, reason] of invalidPools) {
  test(`given a pool spec with ${what}, when compiled, then ${field} is blamed`, (t) => {
    throwsAt(t, () => compilePool('p1', spec), field, reason);
  });
}

test('given invalid resource names, when validated, then metadata.name is blamed with a reason', (t) => {
  throwsAt(t, () => validateName('Pool-1'), 'metadata.name', /uppercase/);
  throwsAt(t, () => validateName(''), 'metadata.name', /empty/);
  throwsAt(t, () => validateName('-p'), 'metadata.name', /not a valid name/);
  throwsAt(t, () => validateName('a..b'), 'metadata.name');
  throwsAt(t, () => validateName('a_b'), 'metadata.name');
  throwsAt(t, () => validateName('a'.repeat(254)), 'metadata.name', /254 characters/);
  throwsAt(t, () => validateName(7), 'metadata.name', /string/);
  throwsAt(t, () => compilePool('Bad', base), 'metadata.name');
  throwsAt(t, () => compileSubnet('bad/name', base), 'metadata.name');
  t.is(validateName('a'.repeat(253)), 'a'.repeat(253));
  t.is(validateName('pool-1.v4.example'), 'pool-1.v4.example');
});

test('given a pool owning more than MAX_POOL_ADDRESSES, when compiled, then spec.ips is blamed; exactly the limit is accepted', (t) => {
  throwsAt(t, () => compilePool('big', { ipVersion: 6, subnet: 'fd00::/64', ips: ['fd00::-fd00::100:0'] }), 'spec.ips', /at most 16777216/);
  t.is(pool({ ipVersion: 6, subnet: 'fd00::/64', ips: ['fd00::1-fd00::100:0'] }).owned.size(), BigInt(MAX_POOL_ADDRESSES));
  // excludeIPs count: owned is what matters.
  t.notThrows(() => pool({ ipVersion: 6, subnet: 'fd00::/64', ips: ['fd00::-fd00::100:0'], excludeIPs: ['fd00::'] }));
});

test('given a subnet spec, when compiled, then the same rules apply and subnets need ips too', (t) => {
  throwsAt(t, () => compileSubnet('s1', withSpec({ ips: [] })), 'spec.ips', /at least one/);
  throwsAt(t, () => compileSubnet('s1', withSpec({ subnet: '10.6.1.0/16' })), 'spec.subnet', /did you mean 10\.6\.0\.0\/16\?/);
  throwsAt(t, () => compileSubnet('s1', withSpec({ default: true }), { strict: true }), 'spec.default', /unknown field/);
  const { subnet, warnings } = compileSubnet('s1', { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.255.254'], excludeIPs: ['10.6.0.1-10.6.0.9'] });
  t.deepEqual(warnings, []);
  t.is(subnet.name, 's1');
  t.is(subnet.subnet, '10.6.0.0/16');
  t.is(subnet.prefixLength, 16);
  t.deepEqual(subnet.owned.toStrings(4), ['10.6.0.10-10.6.255.254']);
});

// --- unknown fields ----------------------------------------------------------------------------------------------

test('given unknown fields, when compiled without strict, then they are ignored and listed as warnings', (t) => {
  const { pool: p, warnings } = compilePool('p1', {
    ...base,
    ipv4Gateway: '10.6.0.1',
    'odd key': 1,
    nodeAffinity: { matchLabel: { zone: 'a' } },
    routes: [{ dst: '172.16.0.0/12', gw: '10.6.0.1', via: 'x' }],
  });
  t.deepEqual(warnings, [
    'spec.ipv4Gateway: unknown field, ignored',
    'spec["odd key"]: unknown field, ignored',
    'spec.routes[0].via: unknown field, ignored',
    'spec.nodeAffinity.matchLabel: unknown field, ignored',
  ]);
  t.false('ipv4Gateway' in p.spec);
  t.false('nodeAffinity' in p.spec); // {matchLabel} is an empty selector once the typo is dropped
});

test('given unknown fields, when compiled strictly, then an InputError names them', (t) => {
  throwsAt(t, () => compilePool('p1', { ...base, ipv4Gateway: '10.6.0.1', vlanId: 3 }, { strict: true }), 'spec.ipv4Gateway', /unknown fields "ipv4Gateway", "vlanId"; spec accepts ipVersion, subnet/);
  throwsAt(t, () => compilePool('p1', withSpec({ routes: [{ dst: '172.16.0.0/12', gw: '10.6.0.1', via: 'x' }] }), { strict: true }), 'spec.routes[0].via');
  throwsAt(t, () => compilePool('p1', withSpec({ podAffinity: { matchExpressions: [{ key: 'a', operator: 'Exists', value: 'x' }] } }), { strict: true }), 'spec.podAffinity.matchExpressions[0].value');
});

// --- normalisation -----------------------------------------------------------------------------------------------

test('given a valid pool spec with sloppy text, when compiled, then the spec is normalised and absent fields omitted', (t) => {
  const { pool: p, warnings } = compilePool('p1', {
    ipVersion: 6,
    subnet: 'FD00:6:0:0::/64',
    ips: ['fd00:6::0030', 'FD00:6::10-fd00:6::20', 'fd00:6::21', 'fd00:6::15'],
    excludeIPs: ['fd00:6::15', 'fd00:6::16'],
    gateway: 'fd00:6:0::1',
    routes: [{ dst: 'FD99::/16', gw: 'fd00:6::0001' }],
    nodeAffinity: { matchLabels: { zone: 'b', 'topology.kubernetes.io/region': 'r1' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['y', 'x', 'y'] }] },
    podAffinity: {},
    namespaceName: [],
    nodeName: ['n1'],
    excludeNothing: null,
    vlan: null,
    default: false,
  });
  t.deepEqual(warnings, ['spec.excludeNothing: unknown field, ignored']);
  t.deepEqual(p.spec, {
    ipVersion: 6,
    subnet: 'fd00:6::/64',
    ips: ['fd00:6::10-fd00:6::21', 'fd00:6::30'],
    excludeIPs: ['fd00:6::15-fd00:6::16'],
    gateway: 'fd00:6::1',
    routes: [{ dst: 'fd99::/16', gw: 'fd00:6::1' }],
    default: false,
    nodeAffinity: { matchLabels: { 'topology.kubernetes.io/region': 'r1', zone: 'b' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['x', 'y'] }] },
    nodeName: ['n1'],
  } satisfies PoolSpec);
  t.is(p.name, 'p1');
  t.is(p.ipVersion, 6);
  t.is(p.scope, 'default');
  t.is(p.subnet, 'fd00:6::/64');
  t.is(p.prefixLength, 64);
  t.is(p.gateway, 'fd00:6::1');
  t.deepEqual(p.owned.toStrings(6), ['fd00:6::10-fd00:6::14', 'fd00:6::17-fd00:6::21', 'fd00:6::30']);
});

test('given a minimal pool spec, when compiled, then optional fields stay absent and the scope defaults', (t) => {
  const p = pool({ ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.10'] });
  t.deepEqual(p.spec, { ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.10'] });
  t.is(p.scope, 'default');
  t.false('gateway' in p);
  t.is(pool({ ...p.spec, scope: 'tenant-a' }).scope, 'tenant-a');
});

test('given a compiled pool, when its spec is compiled again, then nothing changes (normalisation is idempotent)', (t) => {
  const p = pool(withSpec({ ips: ['10.6.0.12', '10.6.0.10-10.6.0.11'], namespaceAffinity: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['b', 'a'] }] } }));
  const again = pool(p.spec as unknown as Spec);
  t.deepEqual(again.spec, p.spec);
  t.true(again.owned.equals(p.owned));
});

// --- owned and usable --------------------------------------------------------------------------------------------

test('given an IPv4 /24 pool with a gateway, when compiled, then usable excludes network, broadcast and gateway', (t) => {
  const p = pool({ ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.0-10.6.0.255'], excludeIPs: ['10.6.0.100'], gateway: '10.6.0.1' });
  t.deepEqual(p.owned.toStrings(4), ['10.6.0.0-10.6.0.99', '10.6.0.101-10.6.0.255']);
  t.deepEqual(p.usable.toStrings(4), ['10.6.0.2-10.6.0.99', '10.6.0.101-10.6.0.254']);
  t.is(p.prefixLength, 24);
});

test('given a gateway outside the pool ips, when compiled, then usable equals owned minus nothing else', (t) => {
  const p = pool({ ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.1.10-10.6.1.20'], gateway: '10.6.0.1' });
  t.true(p.usable.equals(p.owned));
});

test('given IPv4 /31 and /32 pools, when compiled, then every address is usable (no network or broadcast address)', (t) => {
  t.deepEqual(pool({ ipVersion: 4, subnet: '10.6.0.0/31', ips: ['10.6.0.0-10.6.0.1'] }).usable.toStrings(4), ['10.6.0.0-10.6.0.1']);
  t.deepEqual(pool({ ipVersion: 4, subnet: '10.6.0.7/32', ips: ['10.6.0.7'] }).usable.toStrings(4), ['10.6.0.7']);
  t.deepEqual(pool({ ipVersion: 4, subnet: '10.6.0.0/31', ips: ['10.6.0.0-10.6.0.1'], gateway: '10.6.0.0' }).usable.toStrings(4), ['10.6.0.1']);
});

test('given IPv6 pools, when compiled, then usable excludes the network address and gateway but there is no broadcast', (t) => {
  const p = pool({ ipVersion: 6, subnet: 'fd00::/120', ips: ['fd00::-fd00::ff'], gateway: 'fd00::1' });
  t.deepEqual(p.usable.toStrings(6), ['fd00::2-fd00::ff']);
  t.deepEqual(pool({ ipVersion: 6, subnet: 'fd00::/127', ips: ['fd00::-fd00::1'] }).usable.toStrings(6), ['fd00::-fd00::1']);
  t.deepEqual(pool({ ipVersion: 6, subnet: 'fd00::5/128', ips: ['fd00::5'] }).usable.toStrings(6), ['fd00::5']);
});

test('given a pool whose only address is the network address, when compiled, then it warns that nothing is usable', (t) => {
  const { pool: p, warnings } = compilePool('p1', { ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.0', '10.6.0.255'] });
  t.true(p.usable.isEmpty);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^spec\.ips: the pool has no usable address/);
});

// --- overlap and fit ---------------------------------------------------------------------------------------------

test('given two pools sharing addresses in one scope, when compared, then they overlap and the overlap is described', (t) => {
  const a = pool({ ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.20'] }, 'a');
  const b = pool({ ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.30'] }, 'b');
  t.true(poolsOverlap(a, b));
  t.true(poolsOverlap(b, a));
  t.is(describeOverlap(a, b), '10.6.0.10-10.6.0.20');
});

test('given pools in different scopes, families, or disjoint after excludeIPs, when compared, then they do not overlap', (t) => {
  const a = pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.9'] }, 'a');
  t.false(poolsOverlap(a, pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.9'], scope: 'vrf-b' })));
  t.is(describeOverlap(a, pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.9'], scope: 'vrf-b' })), '');
  t.false(poolsOverlap(a, pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.10-10.0.0.20'] })), 'adjacent is not overlapping');
  t.false(poolsOverlap(a, pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.5-10.0.0.20'], excludeIPs: ['10.0.0.5-10.0.0.9'] })));
  // ::a00:1 has the same number as 10.0.0.1.
  t.false(poolsOverlap(a, pool({ ipVersion: 6, subnet: '::/96', ips: ['::a00:1-::a00:9'] })));
});

test('given pools overlapping in many ranges, when described, then the first three are shown and the rest counted', (t) => {
  const a = pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.100'] }, 'a');
  const b = pool({ ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.10', '10.0.0.20-10.0.0.21', '10.0.0.30', '10.0.0.40', '10.0.0.50'] }, 'b');
  t.is(describeOverlap(a, b), '10.0.0.10, 10.0.0.20-10.0.0.21, 10.0.0.30 and 2 more');
});

test('given a pool and a subnet, when fitted, then only a pool inside the owned addresses of the same CIDR fits', (t) => {
  const s = compileSubnet('s1', { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.100'], excludeIPs: ['10.6.0.50'] }).subnet;
  t.is(poolFitsSubnet(pool({ ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.49'] }), s), undefined);
  t.is(
    poolFitsSubnet(pool({ ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.45-10.6.0.55', '10.6.0.200'] }), s),
    'pool p1 has addresses that subnet s1 does not own: 10.6.0.50, 10.6.0.200',
  );
  t.regex(poolFitsSubnet(pool({ ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.10'] }), s)!, /has subnet 10\.6\.0\.0\/24 but subnet s1 is 10\.6\.0\.0\/16/);
  t.regex(poolFitsSubnet(pool(v6), s)!, /is IPv6 but subnet s1 is IPv4/);
});


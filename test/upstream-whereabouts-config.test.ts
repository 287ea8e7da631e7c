// Whereabouts' IPAM configuration rules (pkg/config.LoadIPAMConfig, pkg/iphelpers.GetIPRange, pkg/types), given a
// config, then the ranges, windows, pools and refusals Whereabouts' source gives.
import test, { type ExecutionContext } from 'ava';
import { compilePool } from '../src/alloc/spec.js';
import { InputError } from '../src/net/errors.js';
import { parseWhereaboutsIpam, sloppy } from '../src/upstream/whereabouts/config.js';
import { poolSpecFromIPPool, whereaboutsPoolName, whereaboutsPools } from '../src/upstream/whereabouts/pools.js';

const windowOf = (cfg: Record<string, unknown>, i = 0) => {
  const r = parseWhereaboutsIpam(cfg).ranges[i]!;
  return { cidr: r.cidr.text, window: r.window.toStrings(r.family) };
};

function refused(t: ExecutionContext, cfg: Record<string, unknown>, field: string, reason: RegExp): void {
  const e = t.throws(() => whereaboutsPools(parseWhereaboutsIpam(cfg)), { instanceOf: InputError });
  t.is(e!.field, field);
  t.regex(e!.reason, reason);
}

test('range: host bits dropped, usable addresses from network+1 to the one before the last (IPv4 and IPv6)', (t) => {
  t.deepEqual(windowOf({ range: '192.168.2.225/28' }), { cidr: '192.168.2.224/28', window: ['192.168.2.225-192.168.2.238'] });
  t.deepEqual(windowOf({ range: '192.168.2.225/24' }), { cidr: '192.168.2.0/24', window: ['192.168.2.1-192.168.2.254'] });
  t.deepEqual(windowOf({ range: '2001::0/116' }), { cidr: '2001::/116', window: ['2001::1-2001::ffe'] });
  t.deepEqual(windowOf({ range: '192.168.1.5-192.168.1.25/24' }), { cidr: '192.168.1.0/24', window: ['192.168.1.5-192.168.1.25'] });
  t.deepEqual(windowOf({ range: '00192.00168.1.0/24', range_start: '00192.00168.1.44', range_end: '00192.00168.01.209' }), { cidr: '192.168.1.0/24', window: ['192.168.1.44-192.168.1.209'] });
  t.is(sloppy('010.001.0.7/8'), '10.1.0.7/8');
});

test('range_start / range_end: used when inside the usable addresses, else silently ignored (GetIPRange)', (t) => {
  const w = (extra: Record<string, unknown>) => windowOf({ range: '10.10.0.0/24', ...extra }).window;
  t.deepEqual(w({ range_start: '10.10.0.50' }), ['10.10.0.50-10.10.0.254']);
  t.deepEqual(w({ range_end: '10.10.0.9' }), ['10.10.0.1-10.10.0.9']);
  t.deepEqual(w({ range_start: '10.10.1.5' }), ['10.10.0.1-10.10.0.254'], 'outside: ignored');
  t.deepEqual(w({ range_start: 'fd00::1' }), ['10.10.0.1-10.10.0.254'], 'other family: ignored');
  t.deepEqual(w({ range_start: 'not-an-ip' }), ['10.10.0.1-10.10.0.254'], 'not an address: read as unset');
  t.deepEqual(w({ range_start: '10.10.0.9', range_end: '10.10.0.5' }), ['10.10.0.9-10.10.0.254'], 'end before start: ignored');
  t.deepEqual(w({ range_start: '10.10.0.0' }), ['10.10.0.1-10.10.0.254'], 'the network address: ignored');
});

test('exclude: whole subnets or single addresses, other-family entries never match', (t) => {
  t.deepEqual(windowOf({ range: '192.168.2.225/28', exclude: ['192.168.2.229/30', '192.168.2.236/32', 'fd00::/64'] }).window, ['192.168.2.225-192.168.2.227', '192.168.2.232-192.168.2.235', '192.168.2.237-192.168.2.238']);
  t.deepEqual(windowOf({ range: '2001::1/116', exclude: ['2001::0/128', '2001::1', '2001::2/128'] }).window, ['2001::3-2001::ffe']);
});

test('range first, then ipRanges, one pool each; "range": "" is unset; top-level exclude goes with the top-level range only', (t) => {
  const wb = parseWhereaboutsIpam({ range: '', exclude: ['10.0.0.0/30'], ipRanges: [{ range: '10.0.0.0/24' }, { range: 'fd00:1::/120', exclude: ['fd00:1::1'] }] });
  t.deepEqual(wb.ranges.map((r) => [r.field, r.window.toStrings(r.family).join(' ')]), [['ipam.ipRanges[0]', '10.0.0.1-10.0.0.254'], ['ipam.ipRanges[1]', 'fd00:1::2-fd00:1::fe']]);
  const both = parseWhereaboutsIpam({ range: 'fd00:2::/120', ipRanges: [{ range: '10.0.0.0/24' }] });
  t.deepEqual(both.ranges.map((r) => r.cidr.text), ['fd00:2::/120', '10.0.0.0/24']);
});

test('pools: Whereabouts IPPool names and scopes; spec is the whole range, lowest order, sharing its addresses', (t) => {
  t.is(whereaboutsPoolName('2001::/116', undefined), '2001---116');
  t.is(whereaboutsPoolName('10.0.0.0/24', 'blue'), 'blue-10.0.0.0-24');
  const [p] = whereaboutsPools(parseWhereaboutsIpam({ range: '10.0.0.0/24', range_start: '10.0.0.100', network_name: 'blue' }));
  t.deepEqual(p!.spec, { ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.254'], scope: 'blue', order: 'lowest', sharedAddresses: true });
  const [off] = whereaboutsPools(parseWhereaboutsIpam({ range: '10.0.0.0/24', enable_overlapping_ranges: false, order: 'scattered' }));
  t.deepEqual(off!.spec, { ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.254'], scope: 'whereabouts-10.0.0.0-24', order: 'scattered' });
  // Over 2^24 addresses: the pool holds only the window (until pools index more).
  const [big] = whereaboutsPools(parseWhereaboutsIpam({ range: 'fd00:10::/64', range_start: 'fd00:10::100', range_end: 'fd00:10::1ff' }));
  t.deepEqual(big!.spec.ips, ['fd00:10::100-fd00:10::1ff']);
  for (const spec of [p!.spec, off!.spec, big!.spec]) t.deepEqual(compilePool('wb', spec, { strict: true }).pool.spec, spec);
  t.deepEqual(poolSpecFromIPPool({ range: '192.168.2.225/28' }), { ipVersion: 4, subnet: '192.168.2.224/28', ips: ['192.168.2.225-192.168.2.238'], order: 'lowest', sharedAddresses: true });
});

test('static addresses, gateway unchecked, every Whereabouts setting accepted with its type checked', (t) => {
  const wb = parseWhereaboutsIpam({
    range: '192.168.1.44/28', gateway: '10.99.0.1', addresses: [{ address: '10.10.0.1/24', gateway: '10.10.0.254' }, { address: '3ffe:ffff:0:01ff::1/64' }],
    datastore: 'kubernetes', etcd_host: 'h', etcd_username: 'u', etcd_password: 'p', etcd_key_file: 'k', etcd_cert_file: 'c', etcd_ca_cert_file: 'ca',
    kubernetes: { kubeconfig: '/k', k8s_api_root: '/r' }, configuration_path: '/c', leader_lease_duration: 1500, leader_renew_deadline: 1000,
    leader_retry_period: 500, log_file: '/l', log_level: 'debug', reconciler_cron_expression: '30 4 * * *', sleep_for_race: 0, node_slice_size: '/22',
  });
  t.is(wb.gateway, '10.99.0.1');
  t.deepEqual(wb.addresses, [{ version: '4', address: '10.10.0.1/24', gateway: '10.10.0.254' }, { version: '6', address: '3ffe:ffff:0:1ff::1/64' }]);
  t.true(wb.overlappingRanges);
});

test('refusals name the field with Whereabouts\' message', (t) => {
  refused(t, { range: '192.168.1.5-192.168.2.25/28' }, 'ipam.range', /^invalid range start for CIDR 192\.168\.2\.16\/28: 192\.168\.1\.5$/);
  refused(t, { range: 'x-10.0.0.0/24' }, 'ipam.range', /invalid range start IP: x/);
  refused(t, { range: '10.0.0.0' }, 'ipam.range', /invalid CIDR 10\.0\.0\.0/);
  refused(t, { range: '10.0.0.1/32' }, 'ipam.range', /net mask is too short/);
  refused(t, { range: '10.0.0.0/24', gateway: 'gw' }, 'ipam.gateway', /couldn't parse gateway IP: gw/);
  refused(t, { range: '10.0.0.0/24', exclude: ['10.0.0.0/99'] }, 'ipam.exclude[0]', /could not parse exclude range/);
  refused(t, { range: '10.0.0.0/24', addresses: [{ address: '10.0.0.5' }] }, 'ipam.addresses[0].address', /invalid CIDR in addresses/);
  refused(t, { range: '10.0.0.0/24', range_start: 5 }, 'ipam.range_start', /must be a string/);
  refused(t, { range: '10.0.0.0/24', leader_lease_duration: '1s' }, 'ipam.leader_lease_duration', /integer/);
  refused(t, { range: '10.0.0.0/24', enable_overlapping_ranges: 'yes' }, 'ipam.enable_overlapping_ranges', /true or false/);
  refused(t, { range: '10.0.0.0/24', kubernetes: 'k' }, 'ipam.kubernetes', /object/);
  refused(t, { ipRanges: [{ range: '10.0.0.0/24' }, { range: '10.0.0.7/24' }] }, 'ipam.ipRanges[1].range', /same IPPool \(10\.0\.0\.0-24\)/);
  refused(t, {}, 'ipam.range', /is required/);
  refused(t, { range: 'fd00::/64' }, 'ipam.range', /fd00::\/64 holds \d+ usable addresses; at most 16777216/);
});

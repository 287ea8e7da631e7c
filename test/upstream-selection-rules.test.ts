// Spiderpool's and Calico's selection rules as pure functions: the annotation shapes and refusals of upstream's
// source (pkg/ipam/utils.go, pkg/applicationcontroller/applicationinformers/utils.go, cni-plugin/pkg/k8s/k8s.go),
// wildcards (filepath.Match), Spiderpool's CNI config fields, and the precedence between levels.
import test from 'ava';
import { parseIpam } from '../src/cni/config.js';
import { isCniError } from '../src/cni/protocol.js';
import { calicoIpAddrs, calicoPools } from '../src/upstream/calico/selection.js';
import { ipPoolsItemFor, isSelectionError, type PoolNames, parseIPPools, parsePoolIPNumber, parseSubnetAnnotation } from '../src/upstream/spiderpool/selection-annotations.js';
import { selectPools } from '../src/upstream/spiderpool/selection.js';
import { expandWildcards } from '../src/upstream/spiderpool/selection-wildcard.js';

const refused = (t: import('ava').ExecutionContext, fn: () => unknown, source: string, reason: RegExp) => {
  const e = t.throws(fn);
  t.true(isSelectionError(e), String(e));
  t.is((e as unknown as { source: string }).source, source);
  t.regex((e as unknown as { reason: string }).reason, reason);
};

test('ippools: interfaces all named or none, no duplicates, the current one named; unnamed items follow Multus names', (t) => {
  const named = parseIPPools('[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv4":["b"],"ipv6":["c"],"cleangateway":true}]', 'net1');
  t.deepEqual(ipPoolsItemFor(named, 'net1'), { interface: 'net1', ipv4: ['b'], ipv6: ['c'], cleanGateway: true });
  refused(t, () => parseIPPools('[]', 'eth0'), 'ipam.spidernet.io/ippools', /at least one item/);
  refused(t, () => parseIPPools('[{"interface":"eth0"},{"interface":"eth0"}]', 'eth0'), 'ipam.spidernet.io/ippools', /duplicate interface eth0/);
  refused(t, () => parseIPPools('[{"interface":"eth0"}]', 'net1'), 'ipam.spidernet.io/ippools', /interface net1 must be specified/);
  refused(t, () => parseIPPools('{"interface":"eth0"}', 'eth0'), 'ipam.spidernet.io/ippools', /must be a list/);
  const unnamed = parseIPPools('[{"ipv4":["a"]},{"ipv4":["b"]}]', 'eth0');
  t.deepEqual(ipPoolsItemFor(unnamed, 'eth0').ipv4, ['a']);
  t.deepEqual(ipPoolsItemFor(unnamed, 'net1').ipv4, ['b']);
  refused(t, () => ipPoolsItemFor(unnamed, 'net2'), 'ipam.spidernet.io/ippools', /none for interface net2/);
  refused(t, () => ipPoolsItemFor(unnamed, 'eth1'), 'ipam.spidernet.io/ippools', /not one of Multus' default names/);
  // Go's json.Unmarshal ignores unknown fields and reads null as absent.
  t.deepEqual(parseIPPools('[{"interface":"eth0","ipv4":null,"ipv6":["v6"],"extra":1}]', 'eth0')[0], { interface: 'eth0', ipv6: ['v6'], cleanGateway: false });
});

test('subnet annotations as GetSubnetAnnoConfig reads them: first subnet per family, eth0 by default, ip-number fixed or +N, reclaim', (t) => {
  t.deepEqual(parseSubnetAnnotation({ 'ipam.spidernet.io/subnet': '{"ipv4":["s4","ignored"],"ipv6":["s6"]}', 'ipam.spidernet.io/ippool-ip-number': '+2' }), {
    items: [{ interface: 'eth0', ipv4: 's4', ipv6: 's6' }],
    ipNumber: { flexible: true, n: 2 },
    reclaim: true,
  });
  const multi = parseSubnetAnnotation({ 'ipam.spidernet.io/subnets': '[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv4":["b"]}]', 'ipam.spidernet.io/subnet': '{"ipv4":["x"]}', 'ipam.spidernet.io/ippool-reclaim': 'false', 'ipam.spidernet.io/ippool-ip-number': '5' });
  t.deepEqual(multi, { items: [{ interface: 'eth0', ipv4: 'a' }, { interface: 'net1', ipv4: 'b' }], ipNumber: { flexible: false, n: 5 }, reclaim: false }, 'subnets wins over subnet');
  t.is(parseSubnetAnnotation({}), undefined);
  refused(t, () => parseSubnetAnnotation({ 'ipam.spidernet.io/subnets': '[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv4":["a"]}]' }), 'ipam.spidernet.io/subnets', /same subnet for multiple interfaces/);
  refused(t, () => parseSubnetAnnotation({ 'ipam.spidernet.io/subnet': '{}' }), 'ipam.spidernet.io/subnet', /dual empty subnet with single interface/);
  refused(t, () => parseSubnetAnnotation({ 'ipam.spidernet.io/subnet': '{"ipv4":["a"]}', 'ipam.spidernet.io/ippool-reclaim': 'maybe' }), 'ipam.spidernet.io/ippool-reclaim', /boolean/);
  t.deepEqual(parsePoolIPNumber('0'), { flexible: false, n: 0 });
  refused(t, () => parsePoolIPNumber('++1'), 'ipam.spidernet.io/ippool-ip-number', /invalid input/);
  refused(t, () => parsePoolIPNumber('-1'), 'ipam.spidernet.io/ippool-ip-number', /equal or greater than 0/);
  refused(t, () => parsePoolIPNumber('two'), 'ipam.spidernet.io/ippool-ip-number', /invalid input/);
});

test('wildcards expand over the family\'s pools in filepath.Match fashion; plain names stay as written', (t) => {
  const pools = ['auto4-web-eth0-1', 'default-v4', 'team-a-v4', 'team-b-v4'];
  t.deepEqual(expandWildcards('x', ['team-?-v4', 'default-v4'], pools), ['team-a-v4', 'team-b-v4', 'default-v4']);
  t.deepEqual(expandWildcards('x', ['team-[^a]-v4'], pools), ['team-b-v4']);
  t.deepEqual(expandWildcards('x', ['*'], pools), pools);
  t.deepEqual(expandWildcards('x', ['nomatch-*'], pools), []);
  t.deepEqual(expandWildcards('x', ['exact'], pools), ['exact']);
});

test('precedence: the first level naming any pool decides alone, in Spiderpool\'s order, Calico\'s after Spiderpool\'s at each level', (t) => {
  const base = { nic: 'eth0', poolNames: () => [] as string[] };
  const pod = { 'ipam.spidernet.io/ippool': '{"ipv4":["pod-pool"]}', 'ipam.spidernet.io/ippools': '[{"ipv4":["pods-pool"]}]' };
  const ns = { 'ipam.spidernet.io/default-ipv4-ippool': '["ns-pool"]' };
  const netConf = { ipv4: ['conf-pool'], source: 'ipam.default_ipv4_ippool' };
  const calico: { pod: PoolNames; namespace: PoolNames; podSource: string; namespaceSource: string } = { pod: { ipv4: ['calico-pod'] }, namespace: { ipv4: ['calico-ns'] }, podSource: 'pod calico', namespaceSource: 'ns calico' };
  const sel = (podAnnotations: Record<string, string>, namespaceAnnotations: Record<string, string>, c = calico) => selectPools({ ...base, podAnnotations, namespaceAnnotations, calico: c, netConf });
  t.deepEqual(sel(pod, ns).pools, { ipv4: ['pods-pool'] }, 'ippools before ippool');
  t.deepEqual(sel({ 'ipam.spidernet.io/ippool': pod['ipam.spidernet.io/ippool'] }, ns).pools, { ipv4: ['pod-pool'] });
  t.deepEqual(sel({}, ns).pools, { ipv4: ['calico-pod'] });
  t.deepEqual(sel({}, ns, { ...calico, pod: {} }).pools, { ipv4: ['ns-pool'] });
  t.deepEqual(sel({}, {}, { ...calico, pod: {} }).pools, { ipv4: ['calico-ns'] });
  t.deepEqual(sel({}, {}, { ...calico, pod: {}, namespace: {} }).pools, { ipv4: ['conf-pool'] });
  t.is(selectPools({ ...base, podAnnotations: {}, namespaceAnnotations: {} }).level, 'cluster-default');
  // An empty list at a level does not count as naming pools (upstream: len == 0 falls through).
  t.deepEqual(sel({}, { 'ipam.spidernet.io/default-ipv4-ippool': '[]' }, { ...calico, pod: {}, namespace: {} }).pools, { ipv4: ['conf-pool'] });
  refused(t, () => sel({ 'ipam.spidernet.io/subnet': '{"ipv4":["s"]}', ...pod }, {}), 'ipam.spidernet.io/subnet', /Auto-Pool feature is disabled/);
});

test('Calico: ipv4pools names or CIDRs, ipAddrs one per family, ipAddrsNoIpam refused', (t) => {
  const bySubnet = (cidr: string) => (cidr === '10.1.0.0/16' ? ['p1'] : []);
  t.deepEqual(calicoPools({ 'cni.projectcalico.org/ipv4pools': '["10.1.0.0/16","named"]' }, 'pod', bySubnet), { ipv4: ['p1', 'named'], source: 'pod annotation cni.projectcalico.org/ipv4pools' });
  refused(t, () => calicoPools({ 'cni.projectcalico.org/ipv4pools': '["10.9.0.0/16"]' }, 'pod', bySubnet), 'pod annotation cni.projectcalico.org/ipv4pools', /no pool has the subnet 10.9.0.0\/16/);
  t.deepEqual(calicoIpAddrs({ 'cni.projectcalico.org/ipAddrs': '["10.1.2.3","fd00::5"]' }), { ipv4: '10.1.2.3', ipv6: 'fd00::5' });
  refused(t, () => calicoIpAddrs({ 'cni.projectcalico.org/ipAddrs': '[]' }), 'cni.projectcalico.org/ipAddrs', /specified but empty/);
  refused(t, () => calicoIpAddrs({ 'cni.projectcalico.org/ipAddrs': '["10.1.2.300"]' }), 'cni.projectcalico.org/ipAddrs', /invalid IP format: 10.1.2.300/);
  refused(t, () => calicoIpAddrs({ 'cni.projectcalico.org/ipAddrsNoIpam': '["10.1.2.3"]' }), 'cni.projectcalico.org/ipAddrsNoIpam', /bypasses IPAM/);
});

test('Spiderpool\'s own IPAM config: default pools, clean_gateway, log settings ignored, match_master_subnet and mixing with ipam.pools refused', (t) => {
  const ipam = parseIpam({ ipam: { type: 'spiderpool', default_ipv4_ippool: ['v4-a'], default_ipv6_ippool: ['v6-*'], clean_gateway: true, log_level: 'INFO', ipam_unix_socket_path: '/var/run/spidernet/spiderpool.sock' } });
  t.like(ipam, { kind: 'pools', pools: { ipv4: ['v4-a'], ipv6: ['v6-*'] }, poolsField: 'ipam.default_ipv4_ippool', cleanGateway: true });
  const code = (fn: () => unknown) => {
    const e = t.throws(fn);
    t.true(isCniError(e));
    return e as unknown as { code: number; details: string };
  };
  t.like(code(() => parseIpam({ ipam: { type: 'spiderpool', match_master_subnet: true } })), { code: 7 });
  t.like(code(() => parseIpam({ ipam: { default_ipv4_ippool: ['a'], pools: { ipv4: ['b'] } } })), { code: 2 });
  t.like(code(() => parseIpam({ ipam: { default_ipv4_ippool: 'a' } })), { code: 7 });
  t.like(code(() => parseIpam({ ipam: { clean_gateway: 'yes' } })), { code: 7 });
});

import test from 'ava';
import fc from 'fast-check';
import type { LabelSelector, LabelSelectorRequirement, PoolSpec } from '../events/catalogue.js';
import { matchesSelector, parseLabelSelector, poolMatches, selectorMismatch } from '../src/alloc/selector.js';
import { InputError } from '../src/net/errors.js';

type Labels = Record<string, string>;

/** Kubernetes semantics written the plain way, to check matchesSelector against. */
function reference(sel: LabelSelector | undefined, labels: Labels | undefined): boolean {
  if (sel === undefined) return true;
  const l = labels ?? {};
  const has = (k: string): boolean => Object.keys(l).includes(k);
  for (const k of Object.keys(sel.matchLabels ?? {})) {
    if (!has(k) || l[k] !== sel.matchLabels![k]) return false;
  }
  for (const r of sel.matchExpressions ?? []) {
    const vals = r.values ?? [];
    if (r.operator === 'In' && !(has(r.key) && vals.includes(l[r.key]!))) return false;
    if (r.operator === 'NotIn' && has(r.key) && vals.includes(l[r.key]!)) return false;
    if (r.operator === 'Exists' && !has(r.key)) return false;
    if (r.operator === 'DoesNotExist' && has(r.key)) return false;
  }
  return true;
}

// Few keys and values so that hits and misses are both common; "constructor" checks prototype keys are not labels.
const key = fc.constantFrom('app', 'tier', 'zone', 'constructor', 'example.com/team');
const value = fc.constantFrom('', 'a', 'b', 'c');
const labelsArb = fc.dictionary(key, value, { maxKeys: 4 });
const requirement: fc.Arbitrary<LabelSelectorRequirement> = fc.record(
  {
    key,
    operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist') as fc.Arbitrary<LabelSelectorRequirement['operator']>,
    values: fc.uniqueArray(value, { maxLength: 3 }),
  },
  { requiredKeys: ['key', 'operator'] },
);
const selectorArb: fc.Arbitrary<LabelSelector> = fc.record(
  { matchLabels: fc.dictionary(key, value, { maxKeys: 2 }), matchExpressions: fc.array(requirement, { maxLength: 3 }) },
  { requiredKeys: [] },
);

test('given arbitrary selectors and labels, when matched, then matchesSelector agrees with the reference', (t) => {
  fc.assert(
    fc.property(fc.option(selectorArb, { nil: undefined }), fc.option(labelsArb, { nil: undefined }), (sel, labels) => {
      const got = matchesSelector(sel, labels);
      t.is(got, reference(sel, labels));
      t.is(selectorMismatch(sel, labels) === undefined, got); // the explanation exists exactly when it fails
    }),
    { numRuns: 2000 },
  );
});

test('given no selector or an empty one, when matched, then everything matches, even unknown labels', (t) => {
  t.true(matchesSelector(undefined, undefined));
  t.true(matchesSelector(undefined, { a: 'b' }));
  t.true(matchesSelector({}, undefined));
  t.true(matchesSelector({ matchLabels: {}, matchExpressions: [] }, { a: 'b' }));
});

test('given matchLabels and matchExpressions, when matched, then all must hold (AND)', (t) => {
  const sel: LabelSelector = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] };
  t.true(matchesSelector(sel, { app: 'web', zone: 'a', extra: 'x' }));
  t.false(matchesSelector(sel, { app: 'web', zone: 'c' }));
  t.false(matchesSelector(sel, { app: 'db', zone: 'a' }));
  t.false(matchesSelector(sel, { zone: 'a' }));
  t.is(selectorMismatch(sel, { app: 'web', zone: 'c' }), 'label zone=c is not in [a, b]');
  t.is(selectorMismatch(sel, { zone: 'a' }), 'label app is missing (want app=web)');
});

test('given NotIn and DoesNotExist, when the key is absent, then they match (Kubernetes semantics)', (t) => {
  t.true(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, {}));
  t.true(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, { zone: 'b' }));
  t.false(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, { zone: 'a' }));
  t.true(matchesSelector({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, { zone: 'a' }));
  t.false(matchesSelector({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, { gpu: '' }));
  t.true(matchesSelector({ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, { gpu: '' }));
  t.false(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, {}));
});

test('given labels without "constructor", when a selector asks for it, then Object.prototype does not count', (t) => {
  t.false(matchesSelector({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {}));
  t.true(matchesSelector({ matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] }, {}));
});

test('given an untrusted selector, when parsed, then it is normalised', (t) => {
  t.deepEqual(
    parseLabelSelector(
      { matchLabels: { zone: 'a', app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['b', 'a', 'b'] }, { key: 'gpu', operator: 'Exists', values: [] }] },
      'sel',
    ),
    { matchLabels: { app: 'web', zone: 'a' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a', 'b'] }, { key: 'gpu', operator: 'Exists' }] },
  );
  t.deepEqual(parseLabelSelector({ matchLabels: {}, matchExpressions: null }, 'sel'), {});
});

test('given malformed selectors, when parsed, then the exact field is blamed', (t) => {
  const at = (v: unknown, field: string, reason?: RegExp): void => {
    const e = t.throws(() => parseLabelSelector(v, 'sel'), { instanceOf: InputError });
    t.is(e?.field, field, e?.message);
    if (reason !== undefined) t.regex(e?.reason ?? '', reason);
  };
  at([], 'sel', /label selector/);
  at({ matchLabels: [] }, 'sel.matchLabels');
  at({ matchLabels: { 'a/b/c': 'x' } }, 'sel.matchLabels["a/b/c"]', /label key/);
  at({ matchLabels: { 'Example.com/x': 'x' } }, 'sel.matchLabels["Example.com/x"]', /prefix/);
  at({ matchLabels: { app: 'x'.repeat(64) } }, 'sel.matchLabels.app', /label value/);
  at({ matchExpressions: {} }, 'sel.matchExpressions', /array/);
  at({ matchExpressions: ['app'] }, 'sel.matchExpressions[0]');
  at({ matchExpressions: [{ key: 'a', operator: 'in', values: ['x'] }] }, 'sel.matchExpressions[0].operator', /In, NotIn/);
  at({ matchExpressions: [{ key: 'a', operator: 'In', values: 'x' }] }, 'sel.matchExpressions[0].values', /array/);
  at({ matchExpressions: [{ key: 'a', operator: 'In', values: ['x', 2] }] }, 'sel.matchExpressions[0].values[1]');
  at({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] }, 'sel.matchExpressions[0].values', /must be empty/);
  at({ matchLabels: {}, matchLabelz: {} }, 'sel.matchLabelz', /unknown field/);
});

// --- poolMatches -------------------------------------------------------------------------------------------------

const spec = (extra: Partial<PoolSpec>): PoolSpec => ({ ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.10'], ...extra });
const named = (extra: Partial<PoolSpec>) => ({ name: 'p1', spec: spec(extra) });
const ctx = { namespace: 'ns1', node: 'n3' };

test('given a pool without restrictions, when matched, then any pod may use it', (t) => {
  t.deepEqual(poolMatches(spec({}), ctx), { ok: true });
  t.deepEqual(poolMatches(named({ nodeName: [], namespaceName: [], multusName: [], podAffinity: {} }), ctx), { ok: true });
});

test('given nodeName and namespaceName lists, when the pod is elsewhere, then the reason names the lists', (t) => {
  t.deepEqual(poolMatches(named({ nodeName: ['n1', 'n2'] }), ctx), { ok: false, reason: 'pool p1 is for nodes [n1, n2], not node n3' });
  t.deepEqual(poolMatches(named({ nodeName: ['n3'] }), ctx), { ok: true });
  t.deepEqual(poolMatches(spec({ namespaceName: ['a', 'b'] }), ctx), { ok: false, reason: 'the pool is for namespaces [a, b], not namespace ns1' });
  t.deepEqual(poolMatches(spec({ namespaceName: ['ns1'] }), ctx), { ok: true });
});

test('given a multusName list, when the request names another or no network, then it does not match', (t) => {
  const p = named({ multusName: ['kube-system/macvlan'] });
  t.deepEqual(poolMatches(p, { ...ctx, affinity: { multusName: 'kube-system/macvlan' } }), { ok: true });
  t.deepEqual(poolMatches(p, { ...ctx, affinity: { multusName: 'kube-system/ipvlan' } }), {
    ok: false,
    reason: 'pool p1 is for Multus networks [kube-system/macvlan], not kube-system/ipvlan',
  });
  t.deepEqual(poolMatches(p, ctx), { ok: false, reason: 'pool p1 is for Multus networks [kube-system/macvlan], but no Multus network was given' });
});

test('given affinity selectors, when the labels are not provided, then it does not match and says so', (t) => {
  const r1 = poolMatches(named({ nodeAffinity: { matchLabels: { zone: 'a' } } }), ctx);
  t.deepEqual(r1, { ok: false, reason: 'pool p1 has a nodeAffinity, but the labels of node n3 were not provided' });
  const r2 = poolMatches(named({ namespaceAffinity: { matchLabels: { team: 'x' } } }), { ...ctx, affinity: { nodeLabels: {} } });
  t.deepEqual(r2, { ok: false, reason: 'pool p1 has a namespaceAffinity, but the labels of namespace ns1 were not provided' });
  const r3 = poolMatches(named({ podAffinity: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] } }), ctx);
  t.deepEqual(r3, { ok: false, reason: 'pool p1 has a podAffinity, but the labels of the pod were not provided' });
});

test('given affinity selectors and labels, when matched, then each selector is applied to its own labels', (t) => {
  const p = named({
    nodeAffinity: { matchLabels: { zone: 'a' } },
    namespaceAffinity: { matchExpressions: [{ key: 'team', operator: 'In', values: ['x', 'y'] }] },
    podAffinity: { matchLabels: { app: 'web' } },
  });
  const affinity = { nodeLabels: { zone: 'a' }, namespaceLabels: { team: 'y' }, podLabels: { app: 'web' } };
  t.deepEqual(poolMatches(p, { ...ctx, affinity }), { ok: true });
  t.deepEqual(poolMatches(p, { ...ctx, affinity: { ...affinity, nodeLabels: { zone: 'b' } } }), {
    ok: false,
    reason: "pool p1's nodeAffinity does not match node n3: label zone=b, want zone=a",
  });
  t.deepEqual(poolMatches(p, { ...ctx, affinity: { ...affinity, namespaceLabels: { team: 'z' } } }), {
    ok: false,
    reason: "pool p1's namespaceAffinity does not match namespace ns1: label team=z is not in [x, y]",
  });
  t.deepEqual(poolMatches(p, { ...ctx, affinity: { ...affinity, podLabels: {} } }), {
    ok: false,
    reason: "pool p1's podAffinity does not match the pod: label app is missing (want app=web)",
  });
});

test('as Spiderpool judges them: a nodeName list replaces nodeAffinity, a namespaceName list replaces namespaceAffinity', (t) => {
  const spec = {
    ipVersion: 4 as const,
    subnet: '10.0.0.0/24',
    ips: ['10.0.0.10'],
    nodeName: ['n1'],
    nodeAffinity: { matchLabels: { zone: 'b' } },
    namespaceName: ['team-a'],
    namespaceAffinity: { matchLabels: { tier: 'gold' } },
  };
  const ctx = { namespace: 'team-a', node: 'n1', affinity: { nodeLabels: { zone: 'a' }, namespaceLabels: { tier: 'bronze' } } };
  t.deepEqual(poolMatches(spec, ctx), { ok: true });
  const { nodeName: _n, namespaceName: _ns, ...affinityOnly } = spec;
  t.false(poolMatches(affinityOnly, ctx).ok);
});

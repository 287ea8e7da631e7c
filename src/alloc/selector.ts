// Kubernetes label selectors (apimachinery semantics): checking them as input, matching them, and pool affinity.
import type { LabelSelector, LabelSelectorRequirement, PoolSpec } from '../../events/catalogue.js';
import { InputError } from '../net/errors.js';
import type { AffinityContext } from './types.js';

type Labels = Readonly<Record<string, string>>;

/** Called with an object's path, its unknown keys and the keys it accepts; may throw (strict) or record a warning. */
export type UnknownFieldsHandler = (field: string, unknown: readonly string[], known: readonly string[]) => void;

const OPERATORS: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const SELECTOR_FIELDS = ['matchLabels', 'matchExpressions'];
const REQUIREMENT_FIELDS = ['key', 'operator', 'values'];
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Undefined or empty selectors match everything; otherwise every matchLabels entry and every expression must hold. */
export function matchesSelector(sel: LabelSelector | undefined, labels: Labels | undefined): boolean {
  return selectorMismatch(sel, labels) === undefined;
}

/** Why `labels` fail `sel` (the first failing requirement), or undefined when they match. */
export function selectorMismatch(sel: LabelSelector | undefined, labels: Labels | undefined): string | undefined {
  if (sel === undefined) return undefined;
  const have = labels ?? {};
  for (const [key, want] of Object.entries(sel.matchLabels ?? {})) {
    const value = label(have, key);
    if (value === undefined) return `label ${key} is missing (want ${key}=${want})`;
    if (value !== want) return `label ${key}=${value}, want ${key}=${want}`;
  }
  for (const r of sel.matchExpressions ?? []) {
    const why = requirementMismatch(r, have);
    if (why !== undefined) return why;
  }
  return undefined;
}

export function isEmptySelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

function requirementMismatch(r: LabelSelectorRequirement, labels: Labels): string | undefined {
  const value = label(labels, r.key);
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      if (value === undefined) return `label ${r.key} is missing (want one of ${list(values)})`;
      return values.includes(value) ? undefined : `label ${r.key}=${value} is not in ${list(values)}`;
    case 'NotIn':
      // Kubernetes: NotIn holds when the key is absent.
      return value !== undefined && values.includes(value) ? `label ${r.key}=${value} is in ${list(values)}` : undefined;
    case 'Exists':
      return value === undefined ? `label ${r.key} is missing` : undefined;
    case 'DoesNotExist':
      return value === undefined ? undefined : `label ${r.key} is present (${r.key}=${value})`;
    default:
      return `operator ${JSON.stringify(r.operator)} is not one of ${OPERATORS.join(', ')}`;
  }
}

// Own properties only: labels named "constructor" or "__proto__" must not hit Object.prototype.
function label(labels: Labels, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
}

const list = (xs: readonly string[]): string => `[${xs.join(', ')}]`;

function child(field: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${field}.${key}` : `${field}[${JSON.stringify(key)}]`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const throwOnUnknown: UnknownFieldsHandler = (field, unknown, known) => {
  throw new InputError(child(field, unknown[0]!), `unknown field; ${field} accepts ${known.join(', ')}`);
};

function checkFields(o: Record<string, unknown>, known: readonly string[], field: string, onUnknown: UnknownFieldsHandler): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) onUnknown(field, unknown, known);
}

/** Label key: optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `key ${JSON.stringify(key)} has an invalid prefix: it must be a lowercase DNS subdomain such as example.com`;
  }
  if (name === '' || name.length > 63 || !NAME.test(name)) {
    return `key ${JSON.stringify(key)} is not a valid label key: the name part must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && NAME.test(value))) return undefined;
  return `value ${JSON.stringify(value)} is not a valid label value: at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
}

/** Checks an untrusted LabelSelector; returns it normalised (sorted labels and values, empty parts omitted). */
export function parseLabelSelector(
  value: unknown,
  field: string,
  onUnknown: UnknownFieldsHandler = throwOnUnknown,
): LabelSelector {
  if (!isRecord(value)) throw new InputError(field, `must be a label selector object ({matchLabels, matchExpressions}), got ${describe(value)}`);
  checkFields(value, SELECTOR_FIELDS, field, onUnknown);
  const out: { matchLabels?: Record<string, string>; matchExpressions?: LabelSelectorRequirement[] } = {};
  const ml = value.matchLabels;
  if (ml !== undefined && ml !== null) {
    const f = `${field}.matchLabels`;
    if (!isRecord(ml)) throw new InputError(f, `must be an object of label key to value, got ${describe(ml)}`);
    const keys = Object.keys(ml).sort();
    const labels: Record<string, string> = {};
    for (const k of keys) {
      const v = ml[k];
      const kf = child(f, k);
      if (typeof v !== 'string') throw new InputError(kf, `must be a string label value, got ${describe(v)}`);
      const problem = labelKeyProblem(k) ?? labelValueProblem(v);
      if (problem !== undefined) throw new InputError(kf, problem);
      labels[k] = v;
    }
    if (keys.length > 0) out.matchLabels = labels;
  }
  const me = value.matchExpressions;
  if (me !== undefined && me !== null) {
    const f = `${field}.matchExpressions`;
    if (!Array.isArray(me)) throw new InputError(f, `must be an array of {key, operator, values}, got ${describe(me)}`);
    const reqs = me.map((r, i) => parseRequirement(r, `${f}[${i}]`, onUnknown));
    if (reqs.length > 0) out.matchExpressions = reqs;
  }
  return out;
}

function parseRequirement(r: unknown, field: string, onUnknown: UnknownFieldsHandler): LabelSelectorRequirement {
  if (!isRecord(r)) throw new InputError(field, `must be an object {key, operator, values}, got ${describe(r)}`);
  checkFields(r, REQUIREMENT_FIELDS, field, onUnknown);
  const { key, operator, values } = r;
  if (typeof key !== 'string') throw new InputError(`${field}.key`, `must be a string label key, got ${describe(key)}`);
  const keyProblem = labelKeyProblem(key);
  if (keyProblem !== undefined) throw new InputError(`${field}.key`, keyProblem);
  if (typeof operator !== 'string' || !OPERATORS.includes(operator)) {
    throw new InputError(`${field}.operator`, `must be one of ${OPERATORS.join(', ')}, got ${describe(operator)}`);
  }
  const op = operator as LabelSelectorRequirement['operator'];
  const vf = `${field}.values`;
  let vals: string[] = [];
  if (values !== undefined && values !== null) {
    if (!Array.isArray(values)) throw new InputError(vf, `must be an array of strings, got ${describe(values)}`);
    vals = values.map((v, i) => {
      if (typeof v !== 'string') throw new InputError(`${vf}[${i}]`, `must be a string, got ${describe(v)}`);
      const problem = labelValueProblem(v);
      if (problem !== undefined) throw new InputError(`${vf}[${i}]`, problem);
      return v;
    });
  }
  if ((op === 'In' || op === 'NotIn') && vals.length === 0) {
    throw new InputError(vf, `must list at least one value for operator ${op}`);
  }
  if ((op === 'Exists' || op === 'DoesNotExist') && vals.length > 0) {
    throw new InputError(vf, `must be empty for operator ${op} (it tests only whether the key is present)`);
  }
  return vals.length > 0 ? { key, operator: op, values: [...new Set(vals)].sort() } : { key, operator: op };
}

export type PoolMatch = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface PoolMatchContext {
  readonly namespace: string;
  readonly node: string;
  readonly affinity?: AffinityContext;
}

const OK: PoolMatch = { ok: true };
const no = (reason: string): PoolMatch => ({ ok: false, reason });

/**
 * Whether a pod in `ctx.namespace` on `ctx.node` may use the pool: nodeName, namespaceName and multusName lists
 * (empty = no restriction), then node/namespace/pod affinity (node and namespace affinity only where the matching name
 * list is empty, as Spiderpool judges them). `spec.disable` is not checked here.
 */
export function poolMatches(
  pool: PoolSpec | { readonly name: string; readonly spec: PoolSpec },
  ctx: PoolMatchContext,
): PoolMatch {
  const [who, spec] = 'spec' in pool ? [`pool ${pool.name}`, pool.spec] : ['the pool', pool];
  const a = ctx.affinity;
  const nodes = spec.nodeName ?? [];
  if (nodes.length > 0 && !nodes.includes(ctx.node)) return no(`${who} is for nodes ${list(nodes)}, not node ${ctx.node}`);
  const namespaces = spec.namespaceName ?? [];
  if (namespaces.length > 0 && !namespaces.includes(ctx.namespace)) {
    return no(`${who} is for namespaces ${list(namespaces)}, not namespace ${ctx.namespace}`);
  }
  const networks = spec.multusName ?? [];
  if (networks.length > 0 && (a?.multusName === undefined || !networks.includes(a.multusName))) {
    const got = a?.multusName === undefined ? 'but no Multus network was given' : `not ${a.multusName}`;
    return no(`${who} is for Multus networks ${list(networks)}, ${got}`);
  }
  // Spiderpool (pkg/ipam selectByPod): a nodeName list replaces nodeAffinity, a namespaceName list namespaceAffinity.
  return (
    (nodes.length > 0 ? undefined : affinity(who, 'nodeAffinity', spec.nodeAffinity, a?.nodeLabels, `node ${ctx.node}`)) ??
    (namespaces.length > 0 ? undefined : affinity(who, 'namespaceAffinity', spec.namespaceAffinity, a?.namespaceLabels, `namespace ${ctx.namespace}`)) ??
    affinity(who, 'podAffinity', spec.podAffinity, a?.podLabels, 'the pod') ??
    OK
  );
}

function affinity(
  who: string,
  what: string,
  sel: LabelSelector | undefined,
  labels: Labels | undefined,
  subject: string,
): PoolMatch | undefined {
  // An empty selector matches everything, so it needs no labels.
  if (sel === undefined || isEmptySelector(sel)) return undefined;
  if (labels === undefined) return no(`${who} has a ${what}, but the labels of ${subject} were not provided`);
  const why = selectorMismatch(sel, labels);
  return why === undefined ? undefined : no(`${who}'s ${what} does not match ${subject}: ${why}`);
}

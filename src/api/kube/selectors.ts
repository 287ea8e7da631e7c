// labelSelector and fieldSelector query parameters, with the syntax and field labels the API server accepts.
import type { K8sObject } from '../../../projections/types.js';
import { badRequest } from './status.js';

export type Matcher = (o: K8sObject) => boolean;

type Requirement = { key: string; op: 'in' | 'notin' | 'exists' | '!exists' | 'gt' | 'lt'; values: string[] };

/** Splits on commas outside parentheses. */
function clauses(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((c) => c.trim()).filter((c) => c !== '');
}

function requirement(c: string): Requirement {
  let m = /^!\s*([^\s=!<>(),]+)$/.exec(c);
  if (m) return { key: m[1]!, op: '!exists', values: [] };
  m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(c);
  if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) };
  m = /^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/.exec(c);
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (op === '>' || op === '<') {
      if (!/^-?\d+$/.test(value)) throw badRequest(`labelSelector: ${JSON.stringify(c)}: ${op} needs an integer`);
      return { key, op: op === '>' ? 'gt' : 'lt', values: [value] };
    }
    return { key, op: op === '!=' ? 'notin' : 'in', values: [value] };
  }
  m = /^([^\s=!<>(),]+)$/.exec(c);
  if (m) return { key: m[1]!, op: 'exists', values: [] };
  throw badRequest(`unable to parse requirement ${JSON.stringify(c.length > 100 ? `${c.slice(0, 100)}...` : c)} in labelSelector: use key=value, key!=value, key in (a,b), key notin (a), key or !key`);
}

function matches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key]! : undefined;
  switch (r.op) {
    case 'in':
      return v !== undefined && r.values.includes(v);
    case 'notin':
      return v === undefined || !r.values.includes(v);
    case 'exists':
      return has;
    case '!exists':
      return !has;
    case 'gt':
    case 'lt': {
      if (v === undefined || !/^-?\d+$/.test(v)) return false;
      return r.op === 'gt' ? Number(v) > Number(r.values[0]) : Number(v) < Number(r.values[0]);
    }
  }
}

/** Longest selector accepted (the API server has no such limit, but its URLs are bounded; ours by the header size). */
export const MAX_SELECTOR_LENGTH = 4096;

function bounded(name: string, selector: string): void {
  if (selector.length > MAX_SELECTOR_LENGTH) throw badRequest(`${name} is ${selector.length} characters long; at most ${MAX_SELECTOR_LENGTH} are accepted`);
}

export function labelMatcher(selector: string | null): Matcher | undefined {
  if (selector === null) return undefined;
  bounded('labelSelector', selector);
  if (selector.trim() === '') return undefined;
  const reqs = clauses(selector).map(requirement);
  return (o) => {
    const labels = (o.metadata.labels ?? {}) as Record<string, string>;
    return reqs.every((r) => matches(r, labels));
  };
}

const FIELDS: Record<string, (o: K8sObject) => string> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace ?? '',
};

/** `field=value`, `field==value` or `field!=value`, split in one pass (a regex with a lazy field backtracked: quadratic). */
function fieldClause(c: string): { field: string; op: '=' | '!='; value: string } | undefined {
  const i = c.search(/[=!]/);
  if (i <= 0) return undefined;
  const op = c.startsWith('!=', i) ? '!=' : c.startsWith('==', i) ? '==' : c[i] === '=' ? '=' : undefined;
  if (op === undefined) return undefined;
  const field = c.slice(0, i).trimEnd();
  if (field === '') return undefined;
  return { field, op: op === '!=' ? '!=' : '=', value: c.slice(i + op.length).trimStart() };
}

export function fieldMatcher(selector: string | null): Matcher | undefined {
  if (selector === null) return undefined;
  bounded('fieldSelector', selector);
  if (selector.trim() === '') return undefined;
  const tests = clauses(selector).map((c) => {
    const m = fieldClause(c);
    if (!m) throw badRequest(`invalid selector: ${JSON.stringify(c.length > 100 ? `${c.slice(0, 100)}...` : c)}; fieldSelector takes field=value or field!=value`);
    const { field, op, value } = m;
    const read = FIELDS[field];
    if (!read) throw badRequest(`field label not supported: ${field} (supported: ${Object.keys(FIELDS).join(', ')})`);
    return (o: K8sObject) => (read(o) === value) === (op !== '!=');
  });
  return (o) => tests.every((t) => t(o));
}

/** Both selectors (absent ones match everything). */
export function objectMatcher(q: URLSearchParams): Matcher | undefined {
  const ls = labelMatcher(q.get('labelSelector'));
  const fs = fieldMatcher(q.get('fieldSelector'));
  if (!ls) return fs;
  if (!fs) return ls;
  return (o) => ls(o) && fs(o);
}

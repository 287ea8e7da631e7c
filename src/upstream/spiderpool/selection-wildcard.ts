// Wildcard pool names as Spiderpool expands them (pkg/ippoolmanager: HasWildcardInStr, ParseWildcardPoolNameList):
// a name holding '?' or '*', or both '[' and ']', is a Go filepath.Match pattern over the pools of that family; other
// names stay as written. A pattern matching nothing adds nothing; a malformed pattern is refused.
import { SelectionError } from './selection-annotations.js';

export function hasWildcard(name: string): boolean {
  return name.includes('?') || name.includes('*') || (name.includes('[') && name.includes(']'));
}

export function expandWildcards(source: string, names: readonly string[], pools: readonly string[]): string[] {
  if (!names.some(hasWildcard)) return [...names];
  const out: string[] = [];
  for (const n of names) {
    if (!hasWildcard(n)) {
      out.push(n);
      continue;
    }
    const re = globToRegExp(source, n);
    for (const p of pools) if (re.test(p)) out.push(p);
  }
  return out;
}

/** filepath.Match semantics for names without '/': '*' any run, '?' one character, '[...]' a class ('^' negates). */
function globToRegExp(source: string, pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      const next = pattern[++i];
      if (next === undefined) throw new SelectionError(source, `failed to match wildcard '${pattern}': syntax error in pattern`);
      re += escape(next);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new SelectionError(source, `failed to match wildcard '${pattern}': syntax error in pattern`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') throw new SelectionError(source, `failed to match wildcard '${pattern}': syntax error in pattern`);
      re += `[${negate ? '^' : ''}${body.replace(/[\]\\]/g, (x) => `\\${x}`)}]`;
      i = end;
    } else re += escape(c);
  }
  return new RegExp(`${re}$`);
}

const escape = (c: string): string => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

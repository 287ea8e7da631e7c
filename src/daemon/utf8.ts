// Request bodies must be UTF-8: bytes that are not would be stored as U+FFFD (a silent change of what was sent).
const strict = new TextDecoder('utf-8', { fatal: true });

/** The body as text, or where it breaks: the first field (dotted path) whose key or value holds invalid UTF-8. */
export function decodeUtf8(body: Buffer): { text: string } | { field: string } {
  try {
    return { text: strict.decode(body) };
  } catch {
    return { field: fieldWithReplacement(body.toString('utf8')) };
  }
}

function fieldWithReplacement(lossy: string): string {
  let v: unknown;
  try {
    v = JSON.parse(lossy);
  } catch {
    return 'body';
  }
  const walk = (x: unknown, path: string): string | undefined => {
    if (typeof x === 'string') return x.includes('\uFFFD') ? path || 'body' : undefined;
    if (typeof x !== 'object' || x === null) return undefined;
    for (const [k, e] of Object.entries(x)) {
      const p = Array.isArray(x) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      if (k.includes('\uFFFD')) return p;
      const found = walk(e, p);
      if (found) return found;
    }
    return undefined;
  };
  return walk(v, '') ?? 'body';
}

// Tiny structural checks for event data read from the log: fast (they run on every replayed event) and precise.
export type Check = (v: unknown, path: string) => string | undefined;

export const str: Check = (v, p) => (typeof v === 'string' ? undefined : `${p} must be a string`);
export const int: Check = (v, p) => (Number.isInteger(v) ? undefined : `${p} must be an integer`);
export const bool: Check = (v, p) => (typeof v === 'boolean' ? undefined : `${p} must be a boolean`);
export const oneOf =
  (...allowed: readonly unknown[]): Check =>
  (v, p) =>
    allowed.includes(v) ? undefined : `${p} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
export const opt =
  (c: Check): Check =>
  (v, p) =>
    v === undefined ? undefined : c(v, p);
export const arr =
  (c: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) return `${p} must be an array`;
    for (let i = 0; i < v.length; i++) {
      const e = c(v[i], `${p}[${i}]`);
      if (e) return e;
    }
    return undefined;
  };
export const obj =
  (shape: Readonly<Record<string, Check>>): Check =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p} must be an object`;
    const o = v as Record<string, unknown>;
    for (const k in shape) {
      const e = shape[k]!(o[k], `${p}.${k}`);
      if (e) return e;
    }
    return undefined;
  };
export const record =
  (c: Check): Check =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p} must be an object`;
    for (const [k, x] of Object.entries(v)) {
      const e = c(x, `${p}.${k}`);
      if (e) return e;
    }
    return undefined;
  };

// Bearer-token check for the TCP API (the unix socket is protected by its file mode instead).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function hasBearerToken(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  // The scheme is case-insensitive (RFC 7235, section 2.1): "bearer" and "BEARER" are "Bearer".
  const m = typeof h === 'string' ? /^bearer +(.*)$/i.exec(h) : null;
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  // Constant-time compare, so the answer time does not leak how much of a guessed token was right.
  return given.length === want.length && timingSafeEqual(given, want);
}

// Bearer-token check for the TCP API (the unix socket is protected by its file mode instead).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function hasBearerToken(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
  const given = Buffer.from(h.slice('Bearer '.length).trim());
  const want = Buffer.from(token);
  // Constant-time compare, so the answer time does not leak how much of a guessed token was right.
  return given.length === want.length && timingSafeEqual(given, want);
}

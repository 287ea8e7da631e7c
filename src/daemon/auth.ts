// Authentication of the TCP API (the unix socket is protected by its file mode instead): a bearer token, or the
// Kubernetes aggregation layer's front proxy (request-header authentication: X-Remote-User and friends, believed
// only from a connection whose client certificate the configured request-header CA signed).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestHeaderOptions } from './tls.js';

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

export interface Identity {
  readonly user: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
  readonly via: 'token' | 'front-proxy';
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** The front proxy's client certificate, if this connection presented one the request-header CA signed. */
function frontProxyCertificate(req: IncomingMessage, rh: RequestHeaderOptions): boolean {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return false;
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return false;
  // As Go's x509 verification with ExtKeyUsageClientAuth: a certificate that lists usages must list client auth.
  if (Array.isArray(peer.ext_key_usage) && peer.ext_key_usage.length > 0 && !peer.ext_key_usage.includes(CLIENT_AUTH)) return false;
  const cn = peer.subject?.CN;
  return rh.allowedNames.length === 0 || (typeof cn === 'string' && rh.allowedNames.includes(cn));
}

function headerValues(req: IncomingMessage, name: string): string[] {
  const v = req.headers[name.toLowerCase()];
  if (v === undefined) return [];
  // Node joins repeated custom headers with ", "; Kubernetes reads each header value as one entry.
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name.toLowerCase()) out.push(raw[i + 1]!);
  return out;
}

/** The user the front proxy asserts (Kubernetes' requestheader authenticator), or undefined. */
function frontProxyIdentity(req: IncomingMessage, rh: RequestHeaderOptions): Identity | undefined {
  if (!frontProxyCertificate(req, rh)) return undefined;
  const user = rh.usernameHeaders.map((h) => headerValues(req, h).find((v) => v.trim() !== '')).find((v) => v !== undefined);
  if (user === undefined) return undefined;
  const groups = rh.groupHeaders.flatMap((h) => headerValues(req, h));
  const extra: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const prefix = rh.extraHeaderPrefixes.find((p) => name.startsWith(p.toLowerCase()));
    if (prefix === undefined) continue;
    let key = name.slice(prefix.length);
    try {
      key = decodeURIComponent(key); // extra keys are percent-encoded in header names
    } catch {
      continue;
    }
    (extra[key] ??= []).push(req.rawHeaders[i + 1]!);
  }
  return { user, groups, extra, via: 'front-proxy' };
}

/** Who is asking on the TCP API: the front proxy's user (first, as the API server orders them), or the token holder. */
export function authenticate(req: IncomingMessage, token: string, rh: RequestHeaderOptions | undefined): Identity | undefined {
  const proxied = rh ? frontProxyIdentity(req, rh) : undefined;
  if (proxied) return proxied;
  return hasBearerToken(req, token) ? { user: 'ipam-token', groups: ['system:authenticated'], extra: {}, via: 'token' } : undefined;
}

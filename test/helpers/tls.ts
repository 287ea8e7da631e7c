// The daemon's own certificate machinery (src/daemon/tls.ts) run once per test process: a generated CA and a
// serving certificate for 127.0.0.1/localhost, and clients that verify it (never skipping verification).
import { mkdtempSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServingTls, type ServingTls } from '../../src/daemon/tls.js';

let shared: ServingTls | undefined;

/** One CA and serving certificate for every daemon and server this test process starts. */
export function testTls(): ServingTls {
  shared ??= loadServingTls({ dir: join(mkdtempSync(join(tmpdir(), 'ipam-tls-')), 'tls') });
  return shared;
}

export interface TextAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** One HTTPS request verified with `ca`; the body as text. */
export function httpsText(url: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca: string } & Pick<RequestOptions, 'cert' | 'key'>): Promise<TextAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: o.headers ?? {}, ca: o.ca, ...(o.cert ? { cert: o.cert, key: o.key } : {}) },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

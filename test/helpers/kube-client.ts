// Raw HTTP calls to the Kubernetes-style API (fetch), and a reader for watch streams (JSON lines).
import { request as httpRequest } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- responses are checked field by field
  readonly text: string;
  readonly headers: Headers;
}

export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export interface WatchEvent {
  readonly type: string;
  readonly object: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface WatchStream {
  readonly status: number;
  /** The next event; rejects after `ms` without one. */
  next(ms?: number): Promise<WatchEvent>;
  close(): void;
}

export async function openWatch(base: string, path: string): Promise<WatchStream> {
  const ac = new AbortController();
  const res = await fetch(base + path, { signal: ac.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  const lines: string[] = [];
  return {
    status: res.status,
    async next(ms = 5000) {
      const deadline = Date.now() + ms;
      while (lines.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no watch event within ${ms} ms`);
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no watch event within ${ms} ms`)), left))),
        ]).finally(() => clearTimeout(timer));
        if (chunk.done) throw new Error('watch ended');
        buffered += decoder.decode(chunk.value, { stream: true });
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts.filter((l) => l.trim() !== ''));
      }
      return JSON.parse(lines.shift()!) as WatchEvent;
    },
    close: () => ac.abort(),
  };
}

/** Sends `bytes` of body (declared in Content-Length) and returns the status the server answered with. */
export function postLarge(base: string, path: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base + path);
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': bytes } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => reject(e)); // only before a response: after one, the server closing mid-body is expected
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    req.on('response', () => req.removeAllListeners('error').on('error', () => undefined));
    pump();
  });
}

// The CLI's HTTP client of the daemon (unix socket or TCP with a bearer token).
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface DaemonAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Record<string, string | string[] | undefined>;
}

export class DaemonError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The daemon's error code (`error.code` of its answer), when it gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export class DaemonClient {
  private constructor(
    private readonly target: { socketPath: string } | { url: URL },
    private readonly token: string | undefined,
    /** CA (PEM) that signed the daemon's serving certificate (https); none: the system's CAs. */
    private readonly ca?: string,
  ) {}

  static unix(socketPath: string): DaemonClient {
    return new DaemonClient({ socketPath }, undefined);
  }
  static tcp(url: string, token: string, ca?: string): DaemonClient {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new DaemonError(0, `--server ${url}: expected an https:// URL`);
    return new DaemonClient({ url: u }, token, ca);
  }
  static tokenFrom(file: string | undefined, fallback: string): string | undefined {
    if (file) return readFileSync(file, 'utf8').trim();
    if (process.env.IPAM_TOKEN) return process.env.IPAM_TOKEN.trim();
    return existsSync(fallback) ? readFileSync(fallback, 'utf8').trim() : undefined;
  }

  describe(): string {
    return 'socketPath' in this.target ? `unix:${this.target.socketPath}` : this.target.url.origin;
  }

  /** One request; JSON in and out. Non-2xx answers reject with the daemon's message. */
  async send<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<DaemonAnswer<T>> {
    const a = await this.raw(method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), contentType);
    let parsed: unknown = a.text;
    try {
      parsed = a.text ? JSON.parse(a.text) : undefined;
    } catch {
      /* plain text answer */
    }
    if (a.status >= 300) {
      const p = parsed as { error?: { message?: string; code?: string }; message?: string } | undefined;
      throw new DaemonError(a.status, `${this.describe()} answered ${a.status}: ${p?.error?.message ?? p?.message ?? a.text}`, p?.error?.code);
    }
    return { status: a.status, body: parsed as T, headers: a.headers };
  }

  raw(method: string, path: string, payload: string | undefined, contentType: string): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = contentType;
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const t = this.target;
    const opts =
      'socketPath' in t
        ? { socketPath: t.socketPath, path, method, headers }
        : { host: t.url.hostname.replace(/^\[|\]$/g, ''), port: t.url.port, path: `${t.url.pathname.replace(/\/$/, '')}${path}`, method, headers, ...(this.ca ? { ca: this.ca } : {}) };
    const send = 'url' in t && t.url.protocol === 'https:' ? httpsRequest : request;
    return new Promise((resolve, reject) => {
      const req = send(opts, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8'), headers: res.headers }));
      });
      req.on('error', (e) => reject(new DaemonError(0, `cannot reach the daemon at ${this.describe()}: ${e.message}; is \`ipam serve\` running?`)));
      req.end(payload);
    });
  }
}

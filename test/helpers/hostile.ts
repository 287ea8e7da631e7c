// Tools of the hostile-client suite: raw connections that send what they like and never read, a legitimate
// allocation load whose rate and latency are measured, and the process's memory.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { call, TOKEN, type DaemonFixture } from './daemon.js';

export type Target = { readonly port: number } | { readonly socket: string };

/**
 * A raw connection that writes `text` (if any) and then never reads; resolves once connected (over TCP: once its
 * TLS handshake is done, the daemon's TCP API being HTTPS; `handshake: false` leaves it a bare TCP connection).
 */
export function rawConnection(target: Target, text = '', o: { handshake?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = 'port' in target;
    const tls = tcp && o.handshake !== false;
    // The test's own self-signed certificate: what is tested here is the daemon's handling of the connection.
    const s: Socket = tls ? tlsConnect({ port: target.port, host: '127.0.0.1', rejectUnauthorized: false }) : tcp ? connect(target.port, '127.0.0.1') : connect((target as { socket: string }).socket);
    s.once('error', reject);
    s.once(tls ? 'secureConnect' : 'connect', () => {
      s.removeListener('error', reject);
      s.on('error', () => undefined); // the server may cut us off: that is the point
      if (text) s.write(text);
      s.pause();
      resolve(s);
    });
  });
}

/** GET request text for a raw connection (with the token when it goes over TCP). */
export function rawGet(path: string, tcp: boolean): string {
  return `GET ${path} HTTP/1.1\r\nHost: daemon\r\n${tcp ? `Authorization: Bearer ${TOKEN}\r\n` : ''}\r\n`;
}

/** Reads (and drops) what comes until the server closes the connection or `ms` pass: whether it closed, and the last bytes. */
export function drainUntilClosed(s: Socket, ms: number): Promise<{ closed: boolean; tail: string }> {
  let tail = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, tail }), ms);
    s.on('data', (d: Buffer) => (tail = (tail + d.toString('utf8')).slice(-2000)));
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, tail });
    });
    s.resume();
  });
}

export interface LoadResult {
  readonly ok: number;
  readonly errors: string[];
  readonly seconds: number;
  readonly perSecond: number;
  readonly p99Ms: number;
}

/**
 * `count` fresh-pod allocations from `concurrency` clients over TCP or the socket (the CNI's way), each timed.
 * Every allocation is released again so a pool of any size serves a long run.
 */
export async function allocationLoad(f: Pick<DaemonFixture, 'port' | 'socket'>, o: { count: number; concurrency: number; tag: string; pool: string; via?: 'tcp' | 'socket' }): Promise<LoadResult> {
  const lat: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < o.count) {
      const i = next++;
      const pod = `${o.tag}-${i}`;
      const s = performance.now();
      try {
        const a = await call(f, 'POST', '/v1/allocations', {
          via: o.via ?? 'tcp',
          body: { endpoint: { namespace: 'legit', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}` }, pools: { ipv4: [o.pool] } },
        });
        if (a.status !== 201) errors.push(`${pod}: ${a.status} ${a.text.slice(0, 200)}`);
        else lat.push(performance.now() - s);
        const r = await call(f, 'POST', '/v1/releases', { via: o.via ?? 'tcp', body: { containerID: `ctr-${pod}` } });
        if (r.status !== 200) errors.push(`release ${pod}: ${r.status} ${r.text.slice(0, 200)}`);
      } catch (e) {
        errors.push(`${pod}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { ok: lat.length, errors, seconds, perSecond: lat.length / seconds, p99Ms: lat[Math.floor(lat.length * 0.99)] ?? Infinity };
}

export const rssMb = () => process.memoryUsage().rss / (1 << 20);

/** Live timers of this process (a leaked watch keeps its deadline timer). */
export const liveTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

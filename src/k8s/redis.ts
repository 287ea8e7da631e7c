// BullMQ connection options from a Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS).
import type { ConnectionOptions } from 'bullmq';
import { InputError } from '../net/errors.js';

export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError('redisUrl', `${JSON.stringify(url)} is not a URL; expected redis://host:port[/db]`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InputError('redisUrl', `scheme must be redis: or rediss:, got ${u.protocol}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new InputError('redisUrl', `database ${JSON.stringify(u.pathname.slice(1))} must be a non-negative integer`);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers block on Redis; they must not give up after a few retries.
    maxRetriesPerRequest: null,
  };
}

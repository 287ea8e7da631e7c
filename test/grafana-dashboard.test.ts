// The Grafana dashboard under deploy/grafana queries only metrics a real daemon exposes on /metrics.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AT } from './helpers/alloc.js';
import { call, startDaemon } from './helpers/daemon.js';
import { fastPolicy } from './helpers/lifecycle.js';

const DASHBOARD = resolve(fileURLToPath(import.meta.url), '../../../deploy/grafana/ipam-daemon.json');

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

test('every metric the dashboard queries is on a running daemon\'s /metrics', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { query?: unknown }[] } };
  const queries = [...dash.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)), ...dash.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string')];
  const names = new Set(queries.flatMap((q) => [...q.matchAll(/\b((?:ipam|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!)));
  t.true(names.size >= 10, [...names].join(' '));

  // With --archive-dir, as a maintaining daemon runs: the lifecycle's panels query its maintenance metrics.
  const dir = mkdtempSync(join(tmpdir(), 'ipam-archive-'));
  const f = await startDaemon({ extra: { lifecycle: { archiveDir: dir, policy: fastPolicy({ intervalMs: 60_000 }) } } });
  t.teardown(async () => {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Pool series exist once a pool does; request histograms once requests were served.
  await f.daemon.allocator.definePool('dash', { ipVersion: 4, subnet: '10.71.0.0/24', ips: ['10.71.0.10-10.71.0.40'], default: true }, { at: AT });
  const a = await call(f, 'POST', '/v1/allocations', { body: { endpoint: { namespace: 'd', name: 'p', containerID: 'c-dash' } } });
  t.is(a.status, 201, a.text);
  await call(f, 'GET', '/metrics');
  const text = (await call(f, 'GET', '/metrics')).text;
  const exposed = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
  const missing = [...names].filter((n) => !exposed.has(n));
  t.deepEqual(missing, [], `queried by the dashboard but not on /metrics: ${missing.join(', ')}`);
  t.regex(text, /ipam_pool_allocated_addresses\{pool="dash"\} 1\b/);
  t.regex(text, /ipam_pool_addresses\{pool="dash"\} 31\b/);
});

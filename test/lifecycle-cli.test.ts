// `ipam replay --at`, `ipam history` and `ipam check` across archive + etcd, as a user runs them (child processes).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { AT, openAllocator } from './helpers/alloc.js';
import { CHURN_POOL, churn, fastPolicy, openMaintainer } from './helpers/lifecycle.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');

function ipam(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ETCD_ENDPOINTS: '' }, timeout: 60_000 }, (err, stdout, stderr) => ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

test('replay --at before the horizon equals the state recorded then; history reaches into the archive; check passes, then names a tampered segment and exits 1', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const args = ['--etcd', endpoints.join(','), '--prefix', prefix];
  const a = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 10 }));
  try {
    await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
    const next = await churn(a.allocator, 60, 20, 0, 2);
    await a.allocator.sync();
    const early = a.allocator.revision;
    const before = await ipam([...args, 'replay', '--at', String(early), '--kind', 'spiderippool', '-o', 'json']);
    t.is(before.code, 0, before.stderr);
    await churn(a.allocator, 150, 20, next, 2);
    const run = await m.maintainer.runOnce();
    t.true(run.horizon > early, `horizon ${run.horizon} is past the recorded revision ${early}`);

    const without = await ipam([...args, 'replay', '--at', String(early)]);
    t.is(without.code, 1);
    t.regex(without.stderr, /--archive-dir/);
    const after = await ipam([...args, 'replay', '--at', String(early), '--kind', 'spiderippool', '-o', 'json', '--archive-dir', dir]);
    t.is(after.code, 0, after.stderr);
    t.deepEqual(JSON.parse(after.stdout), JSON.parse(before.stdout), 'the past read from the archive is the past as it was');

    const h = await ipam([...args, 'history', 'pod', 'default/churn-0', '-o', 'json', '--archive-dir', dir]);
    t.is(h.code, 0, h.stderr);
    const rows = JSON.parse(h.stdout) as { pod: string; until?: { reason: string } }[];
    t.is(rows.length, 1);
    t.is(rows[0]!.until?.reason, 'cni-del');

    const ok = await ipam([...args, 'check', '--archive-dir', dir]);
    t.is(ok.code, 0, ok.stdout + ok.stderr);
    const seg = join(dir, 'segments', m.archive.segments[0]!.file);
    const bytes = await readFile(seg);
    bytes[20]! ^= 1;
    await writeFile(seg, bytes);
    const bad = await ipam([...args, 'check', '--archive-dir', dir, '-o', 'json']);
    t.is(bad.code, 1);
    const doc = JSON.parse(bad.stdout) as { findings: { check: string; problems: number; details: string[] }[] };
    const life = doc.findings.find((f) => f.check.startsWith('archive and etcd'))!;
    t.true(life.problems > 0 && life.details.some((d) => d.includes('sha256')), JSON.stringify(life));
  } finally {
    await a.close();
    await m.close();
    await rm(dir, { recursive: true, force: true });
  }
});

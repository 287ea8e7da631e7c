// `ipam check`: the log, the tag keys and the projections agree. Lists duplicates, orphaned releases, leaks and
// disagreements; exits non-zero when there is any.
import { isDeepStrictEqual } from 'node:util';
import type { LoggedEvent } from '../../../events/catalogue.js';
import { loadAll } from '../../../projections/checkpoint.js';
import { ALL_PROJECTIONS } from '../../../projections/index.js';
import { readModelOf, replay } from '../../../projections/runtime.js';
import { checkAllocationLog } from '../../alloc/log-check.js';
import { AllocatorModel } from '../../alloc/model.js';
import type { MalformedEventError } from '../../../events/codec.js';
import { openDirect, type GlobalOptions } from '../connection.js';
import { logSource } from '../../lifecycle/log-source.js';
import { COLLECTED_TAG_KINDS, guardsLive } from '../../lifecycle/tag-gc.js';
import { verifyLifecycle } from '../../lifecycle/verify.js';
import { readHorizon } from '../../store/horizon.js';
import { ADDRESS_LAYOUT, readTagLayout } from '../../store/tag-layout.js';
import { archiveOf } from './audit.js';
import { progress } from '../progress.js';
import { formatTable } from '../resources.js';

export interface CheckFinding {
  readonly check: string;
  readonly problems: number;
  readonly details: string[];
}

const MAX_DETAILS = 20;

export async function runChecks(g: GlobalOptions, archiveDir?: string): Promise<{ findings: CheckFinding[]; events: number; revision: number }> {
  const d = await openDirect(g);
  try {
    const store = d.store;
    const archive = archiveOf(g, archiveDir);
    const pages = logSource(store, archive);
    const until = await store.currentRevision();
    const { horizon } = await readHorizon(store.client, store.keys);
    const h = horizon?.revision ?? 0;
    // Archive + etcd continuity first: the rest reads through the archive.
    const life = await verifyLifecycle(store, archive, ALL_PROJECTIONS, MAX_DETAILS);
    const lifeFinding = { check: 'archive and etcd continuous (no gap, no overlap, checksums, checkpoint at the horizon)', problems: life.problems.length, details: life.problems };
    // Without a sound archive the log before the horizon cannot be read: report that alone.
    if ((h > 0 && !archive) || (h > 0 && life.problems.length > 0)) return { findings: [lifeFinding], events: 0, revision: until };
    const events: LoggedEvent[] = [];
    const malformed: string[] = [];
    const bar = progress('reading the log', 0);
    for await (const page of pages({ until, onMalformed: (e: MalformedEventError) => malformed.push(e.message) })) {
      for (const e of page.events) events.push(e as LoggedEvent);
      bar.update(events.length);
    }
    bar.stop();
    const findings: CheckFinding[] = [lifeFinding];
    findings.push({ check: 'events readable', problems: malformed.length, details: malformed.slice(0, MAX_DETAILS) });

    const log = checkAllocationLog(events, MAX_DETAILS);
    findings.push({ check: 'no address held twice', problems: log.duplicates, details: log.details.filter((x) => x.includes(' while held by ')) });
    findings.push({ check: 'every release matches an allocation', problems: log.badReleases, details: log.details.filter((x) => x.startsWith('release of ')) });

    // Leaks: allocations still live in a pool that no longer exists.
    const model = new AllocatorModel();
    for (const e of events) model.apply(e.event, e.revision);
    const leaks = [...model.byId.values()].filter((a) => !model.pools.has(a.pool));
    findings.push({ check: 'no allocation left in a removed pool', problems: leaks.length, details: leaks.slice(0, MAX_DETAILS).map((a) => `${a.address} in removed pool ${a.pool} held by ${a.endpoint.namespace}/${a.endpoint.name}`) });

    // Tags: each guard key names the last event carrying a tag it guards (in the 'address' layout a key per tag; in
    // 'block' an ip: tag's key is its block's). Tag GC may have deleted one last written at or before the horizon that
    // guards nothing live.
    const layout = (await readTagLayout(store.client, store.keys)) ?? ADDRESS_LAYOUT;
    const expected = new Map<string, { id: string; revision: number }>();
    for (const e of events) for (const t of e.event.tags) expected.set(layout.guardOf(t), { id: e.event.id, revision: e.revision });
    const actual = await store.client.getAll().prefix(store.keys.tagPrefix).strings();
    const tagProblems: string[] = [];
    for (const [t, { id, revision }] of expected) {
      const got = actual[store.keys.tag(t)];
      if (got === undefined && revision <= h && COLLECTED_TAG_KINDS.some((k) => t.startsWith(k)) && !guardsLive(model, t)) continue;
      if (got !== id) tagProblems.push(`tag ${t}: key holds ${got ?? '(missing)'}, log says ${id}`);
    }
    for (const k of Object.keys(actual)) {
      const t = k.slice(store.keys.tagPrefix.length);
      if (!expected.has(t)) tagProblems.push(`tag ${t}: key exists but no event in the log carries it`);
    }
    findings.push({ check: `tag keys agree with the log (${layout.name} layout)`, problems: tagProblems.length, details: tagProblems.slice(0, MAX_DETAILS) });

    // Projections: a full replay equals the checkpoint plus its tail; pool counts equal the allocator's view.
    const full = readModelOf(await replay(store, ALL_PROJECTIONS, { until, pages }));
    const projProblems: string[] = [];
    const cp = await loadAll(store, ALL_PROJECTIONS);
    if (cp && cp.revision <= until) {
      const fromCp = readModelOf(await replay(store, ALL_PROJECTIONS, { from: cp, until, pages }));
      for (const p of ALL_PROJECTIONS) {
        const a = [...full.list(p.name)];
        const b = [...fromCp.list(p.name)];
        if (!isDeepStrictEqual(sortByKey(a), sortByKey(b))) projProblems.push(`${p.name}: checkpoint at ${cp.revision} plus the tail differs from a full replay`);
      }
    }
    for (const [name, pool] of model.pools) {
      const o = full.get('spider-ippool', name) as { status?: { allocatedIPCount?: number } } | undefined;
      const count = o?.status?.allocatedIPCount ?? 0;
      if (count !== pool.allocated) projProblems.push(`spiderippool ${name}: status.allocatedIPCount ${count}, the log holds ${pool.allocated}`);
    }
    findings.push({ check: 'projections agree with the log', problems: projProblems.length, details: projProblems.slice(0, MAX_DETAILS) });
    return { findings, events: events.length, revision: until };
  } finally {
    await d.close();
  }
}

function sortByKey<T extends { metadata: { name: string; namespace?: string } }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
}

export async function check(g: GlobalOptions, o: { output?: 'json'; archiveDir?: string }): Promise<void> {
  const r = await runChecks(g, o.archiveDir);
  const bad = r.findings.some((f) => f.problems > 0);
  if (o.output === 'json') process.stdout.write(JSON.stringify({ ok: !bad, ...r }, null, 2) + '\n');
  else {
    process.stdout.write(formatTable([['CHECK', 'RESULT'], ...r.findings.map((f) => [f.check, f.problems === 0 ? 'ok' : `${f.problems} problem(s)`])]));
    for (const f of r.findings) for (const x of f.details) process.stdout.write(`  ${f.check}: ${x}\n`);
    process.stderr.write(`${r.events} events through revision ${r.revision}: ${bad ? 'PROBLEMS FOUND' : 'consistent'}\n`);
  }
  if (bad) process.exitCode = 1;
}

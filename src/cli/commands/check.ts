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
import { progress } from '../progress.js';
import { formatTable } from '../resources.js';

export interface CheckFinding {
  readonly check: string;
  readonly problems: number;
  readonly details: string[];
}

const MAX_DETAILS = 20;

export async function runChecks(g: GlobalOptions): Promise<{ findings: CheckFinding[]; events: number; revision: number }> {
  const d = await openDirect(g);
  try {
    const store = d.store;
    const until = await store.currentRevision();
    const events: LoggedEvent[] = [];
    const malformed: string[] = [];
    const bar = progress('reading the log', 0);
    for await (const page of store.readPages({ until, onMalformed: (e: MalformedEventError) => malformed.push(e.message) })) {
      for (const e of page.events) events.push(e as LoggedEvent);
      bar.update(events.length);
    }
    bar.stop();
    const findings: CheckFinding[] = [];
    findings.push({ check: 'events readable', problems: malformed.length, details: malformed.slice(0, MAX_DETAILS) });

    const log = checkAllocationLog(events, MAX_DETAILS);
    findings.push({ check: 'no address held twice', problems: log.duplicates, details: log.details.filter((x) => x.includes(' while held by ')) });
    findings.push({ check: 'every release matches an allocation', problems: log.badReleases, details: log.details.filter((x) => x.startsWith('release of ')) });

    // Leaks: allocations still live in a pool that no longer exists.
    const model = new AllocatorModel();
    for (const e of events) model.apply(e.event, e.revision);
    const leaks = [...model.byId.values()].filter((a) => !model.pools.has(a.pool));
    findings.push({ check: 'no allocation left in a removed pool', problems: leaks.length, details: leaks.slice(0, MAX_DETAILS).map((a) => `${a.address} in removed pool ${a.pool} held by ${a.endpoint.namespace}/${a.endpoint.name}`) });

    // Tags: each tag key names the last event carrying that tag.
    const expected = new Map<string, string>();
    for (const e of events) for (const t of e.event.tags) expected.set(t, e.event.id);
    const actual = await store.client.getAll().prefix(store.keys.tagPrefix).strings();
    const tagProblems: string[] = [];
    for (const [t, id] of expected) {
      const got = actual[store.keys.tag(t)];
      if (got !== id) tagProblems.push(`tag ${t}: key holds ${got ?? '(missing)'}, log says ${id}`);
    }
    for (const k of Object.keys(actual)) {
      const t = k.slice(store.keys.tagPrefix.length);
      if (!expected.has(t)) tagProblems.push(`tag ${t}: key exists but no event in the log carries it`);
    }
    findings.push({ check: 'tag keys agree with the log', problems: tagProblems.length, details: tagProblems.slice(0, MAX_DETAILS) });

    // Projections: a full replay equals the checkpoint plus its tail; pool counts equal the allocator's view.
    const full = readModelOf(await replay(store, ALL_PROJECTIONS, { until }));
    const projProblems: string[] = [];
    const cp = await loadAll(store, ALL_PROJECTIONS);
    if (cp && cp.revision <= until) {
      const fromCp = readModelOf(await replay(store, ALL_PROJECTIONS, { from: cp, until }));
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

export async function check(g: GlobalOptions, o: { output?: 'json' }): Promise<void> {
  const r = await runChecks(g);
  const bad = r.findings.some((f) => f.problems > 0);
  if (o.output === 'json') process.stdout.write(JSON.stringify({ ok: !bad, ...r }, null, 2) + '\n');
  else {
    process.stdout.write(formatTable([['CHECK', 'RESULT'], ...r.findings.map((f) => [f.check, f.problems === 0 ? 'ok' : `${f.problems} problem(s)`])]));
    for (const f of r.findings) for (const x of f.details) process.stdout.write(`  ${f.check}: ${x}\n`);
    process.stderr.write(`${r.events} events through revision ${r.revision}: ${bad ? 'PROBLEMS FOUND' : 'consistent'}\n`);
  }
  if (bad) process.exitCode = 1;
}

// `ipam history`, `ipam replay`, `ipam export`, `ipam import`: the log as an audit trail, straight from etcd.
import { stringify } from 'yaml';
import { exportLog, importLog } from '../../../projections/archive.js';
import { history, type Holding } from '../../../projections/history.js';
import { ALL_PROJECTIONS } from '../../../projections/index.js';
import { CliError, openDirect, type GlobalOptions } from '../connection.js';
import { formatTable, resourceInfo, RESOURCE_INFO } from '../resources.js';
import { directReadModel } from './direct-read.js';
import { printObjects, selectObjects } from './get.js';

export async function historyCmd(g: GlobalOptions, what: string, key: string, o: { output?: 'json' }): Promise<void> {
  const q = what === 'ip' ? { address: key } : what === 'pod' ? { pod: key } : what === 'pool' ? { pool: key } : undefined;
  if (!q) throw new CliError(`history ${what}: expected "ip ADDRESS", "pod NAMESPACE/NAME" or "pool NAME"`);
  if (what === 'pod' && !/^[^/]+\/[^/]+$/.test(key)) throw new CliError(`history pod ${key}: expected NAMESPACE/NAME`);
  const d = await openDirect(g);
  let rows: Holding[];
  try {
    rows = await history(d.store, q);
  } finally {
    await d.close();
  }
  if (o.output === 'json') return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  if (rows.length === 0) return void process.stderr.write(`no allocation in the log matches ${what} ${key}\n`);
  const table = [['ADDRESS', 'POOL', 'POD', 'INTERFACE', 'FROM', 'UNTIL', 'REASON', 'REVISIONS']];
  for (const h of rows) table.push([h.address, h.pool, h.pod, h.nic, h.from.at, h.until?.at ?? '(held)', h.until?.reason ?? '', `${h.from.revision}-${h.until?.revision ?? ''}`]);
  process.stdout.write(formatTable(table));
}

/** `--at` is a revision (digits) or a time (RFC 3339). */
export function parseAt(at: string): { until?: number; asOf?: Date } {
  if (/^\d+$/.test(at)) return { until: Number(at) };
  const t = Date.parse(at);
  if (Number.isNaN(t)) throw new CliError(`--at ${at}: expected a revision (digits) or a time such as 2026-11-23T14:02:00Z`);
  return { asOf: new Date(t) };
}

export async function replayCmd(g: GlobalOptions, o: { at?: string; kind?: string; output?: 'wide' | 'yaml' | 'json' }): Promise<void> {
  const when = o.at ? parseAt(o.at) : {};
  const model = await directReadModel(g, when.until, when.asOf);
  if (o.kind) {
    const r = resourceInfo(o.kind);
    await printObjects(r, selectObjects(model, r, undefined, undefined), { allNamespaces: true, ...(o.output ? { output: o.output } : {}) }, false);
    return;
  }
  const counts = RESOURCE_INFO.map((r) => [r.plural, String([...model.list(r.projection)].length)]);
  if (o.output === 'json' || o.output === 'yaml') {
    const doc = { revision: model.revision, objects: Object.fromEntries(counts.map(([k, v]) => [k, Number(v)])) };
    return void process.stdout.write(o.output === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc));
  }
  process.stdout.write(formatTable([['RESOURCE', 'OBJECTS'], ...counts]));
  process.stderr.write(`as of revision ${model.revision}${o.at ? ` (--at ${o.at})` : ''}; show objects with --kind RESOURCE (${ALL_PROJECTIONS.length} projections replayed)\n`);
}

export async function exportCmd(g: GlobalOptions, file: string, o: { after?: number; until?: number }): Promise<void> {
  const d = await openDirect(g);
  try {
    const n = await exportLog(d.store, file, { ...(o.after !== undefined ? { after: o.after } : {}), ...(o.until !== undefined ? { until: o.until } : {}) });
    process.stderr.write(`exported ${n} events to ${file}\n`);
  } finally {
    await d.close();
  }
}

export async function importCmd(g: GlobalOptions, file: string): Promise<void> {
  const d = await openDirect(g);
  try {
    const n = await importLog(d.store, file);
    process.stderr.write(`imported ${n} events from ${file} under prefix ${g.prefix}\n`);
  } finally {
    await d.close();
  }
}

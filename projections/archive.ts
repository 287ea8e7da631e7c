// Export a log range as JSON Lines for archiving, and import such an export into an empty store.
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { DomainEvent } from '../events/catalogue.js';
import type { EventStore } from '../src/store/event-store.js';
import type { ReadOptions, ReadPage } from '../src/store/reader.js';

/** One line per event: {"revision":…,"position":…,"event":{…}}. Returns the number of events written. */
export async function exportLog(store: EventStore, file: string, range: { after?: number; until?: number } = {}, pages?: (opts: ReadOptions) => AsyncGenerator<ReadPage>): Promise<number> {
  const out = createWriteStream(file);
  let n = 0;
  const read = pages ?? ((o: ReadOptions) => store.readPages(o));
  for await (const page of read({ ...range })) {
    for (const e of page.events) {
      if (!out.write(`${JSON.stringify({ revision: e.revision, position: e.position, event: e.event })}\n`)) await once(out, 'drain');
      n++;
    }
  }
  out.end();
  await once(out, 'finish');
  return n;
}

/**
 * Appends an export into a store that holds no events yet, one commit per original commit, in order, so replaying
 * the imported log gives the same projections. Every line is validated before anything is written.
 */
export async function importLog(store: EventStore, file: string): Promise<number> {
  if ((await store.headRevision()) !== 0) throw new Error('import needs an empty store (no commits under its prefix)');
  const commits: DomainEvent[][] = [];
  let last = -1;
  let lineNo = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    let rec: { revision: number; event: unknown };
    try {
      rec = JSON.parse(line) as { revision: number; event: unknown };
    } catch (e) {
      throw new Error(`${file}:${lineNo}: not JSON: ${(e as Error).message}`);
    }
    const event = store.codec.decode(rec.event, `${file}:${lineNo}`);
    if (rec.revision !== last) commits.push([]);
    commits[commits.length - 1]!.push(event);
    last = rec.revision;
  }
  let n = 0;
  for (const events of commits) {
    await store.append(events);
    n += events.length;
  }
  return n;
}

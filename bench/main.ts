// `npm run bench -- <scenario> [options]`: each scenario starts its own local etcd unless endpoints are given.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { environment } from './lib/env.js';
import { table } from './lib/table.js';
import { openTarget } from './lib/target.js';
import { runStoreBench } from './store.js';

const program = new Command().name('bench').description('benchmarks of the IPAM engine, each with its baseline measured in the same run');
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

function common(cmd: Command): Command {
  return cmd
    .option('--etcd <endpoints>', 'use this etcd instead of starting a local one')
    .addOption(new Option('--etcd-cluster <members>', 'start a local etcd cluster of this many members').argParser(int))
    .option('--json <file>', 'write every figure and the environment to this JSON file');
}

function emit(result: Record<string, unknown>, rows: (string | number)[][], json: string | undefined): void {
  const doc = { ...result, environment: environment() };
  process.stdout.write(`${table(rows)}\n`);
  if (json) {
    writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`wrote ${json}\n`);
  }
}

common(program.command('store'))
  .description('conditional appends (group-committed) vs raw etcd puts of the same events in full txns')
  .option('--events <n>', 'events per round', int, 60_000)
  .option('--rounds <n>', 'rounds (figures are medians)', int, 5)
  .option('--requesters <n>', 'concurrent appenders', int, 256)
  .option('--raw-concurrency <n>', 'raw txns in flight', int, 16)
  .option('--max-inflight <n>', 'store txns in flight', int, 4)
  .option('--max-ops <n>', 'etcd --max-txn-ops in use', int, 128)
  .addOption(new Option('--shape <shape>', 'event shape: one tag per event, or the allocator\'s IPAllocated tags').choices(['single-tag', 'allocation', 'both']).default('both'))
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      const shapes = o.shape === 'both' ? (['single-tag', 'allocation'] as const) : [o.shape as 'single-tag' | 'allocation'];
      const results = [];
      const rows: (string | number)[][] = [['shape', 'figure', 'median', 'per round']];
      for (const shape of shapes) {
        const r = await runStoreBench({ endpoints: target.endpoints, events: o.events, rounds: o.rounds, requesters: o.requesters, rawConcurrency: o.rawConcurrency, maxInflight: o.maxInflight, maxOps: o.maxOps, shape });
        results.push(r);
        rows.push(
          [shape, 'store: appended events/s', r.appendedEventsPerSec, r.rounds.map((x) => x.appendedEventsPerSec).join(' ')],
          [shape, 'raw etcd puts/s (full txns)', r.baselines.etcdCeiling.keysPerSec, r.rounds.map((x) => x.rawKeysPerSec).join(' ')],
          [shape, 'ratio store/raw', r.ratioToRaw, r.rounds.map((x) => Math.round((x.appendedEventsPerSec / x.rawKeysPerSec) * 1000) / 1000).join(' ')],
        );
      }
      emit({ scenario: 'store', results, ...results[0] }, rows, o.json);
    } finally {
      await target.close();
    }
  });

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});

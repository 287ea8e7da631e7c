// Every SpiderIPPool, SpiderSubnet and SpiderReservedIP sample in Spiderpool's docs/example, docs/usage and
// docs/reference (copied verbatim, see test/fixtures/upstream/spidernet-io/spiderpool/SOURCE.md) through `ipam apply`'s
// path, one file per fresh log in the file's order (each upstream page starts from a clean cluster): it applies, or
// it is refused where Spiderpool's webhook refuses it, at the same field.
import test from 'ava';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { applyDirect, recordedMetadata } from '../src/cli/commands/apply.js';
import { parseManifests } from '../src/cli/manifests.js';
import { isInputError } from '../src/net/errors.js';
import { isAllocError } from '../src/alloc/errors.js';
import { openAllocator } from './helpers/alloc.js';
import { UPSTREAM_REFUSED as REFUSED, samplesOf, type Sample } from './helpers/upstream-samples.js';

const ROOT = 'test/fixtures/upstream/spidernet-io/spiderpool';
const KINDS = new Set(['SpiderIPPool', 'SpiderSubnet', 'SpiderReservedIP']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [relative(ROOT, p)];
  });
}

const SAMPLE_FILES = files(`${ROOT}/docs`).filter((f) => /\.(ya?ml|md)$/.test(f)).sort();

type Result = { sample: Sample; outcome: string } | { sample: Sample; refused: { field: string; message: string } };

async function applyFile(path: string): Promise<Result[]> {
  const samples = samplesOf(path, ROOT, KINDS);
  const f = await openAllocator();
  try {
    const out: Result[] = [];
    for (const sample of samples) {
      if (sample.templated) continue;
      const [m] = parseManifests(sample.text, sample.where);
      try {
        const meta = await recordedMetadata(f.allocator);
        const r = await applyDirect(f.allocator, m!, { file: sample.where, dryRun: false, validate: 'warn' }, meta);
        out.push({ sample, outcome: r.outcome });
      } catch (e) {
        if (!isInputError(e) && !isAllocError(e)) throw e;
        out.push({ sample, refused: { field: e.field, message: e.message } });
      }
    }
    return out;
  } finally {
    await f.close();
  }
}

test('every upstream sample applies, or is refused where and as Spiderpool refuses it', async (t) => {
  const all: Result[] = [];
  for (const file of SAMPLE_FILES) all.push(...(await applyFile(file)));
  const report = all.map((r) => ('outcome' in r ? `${r.sample.where} ${r.sample.kind}/${r.sample.name}: ${r.outcome}` : `${r.sample.where} ${r.sample.kind}/${r.sample.name}: REFUSED ${r.refused.message}`));
  t.log(report.join('\n'));
  for (const r of all) {
    const expected = REFUSED[r.sample.where];
    if ('outcome' in r) {
      t.is(expected, undefined, `${r.sample.where} applied but Spiderpool refuses it`);
      t.not(r.outcome, undefined, r.sample.where); // created, or configured/unchanged when a page shows the same object again
    } else {
      t.truthy(expected, `${r.sample.where} refused: ${r.refused.message}`);
      if (expected) {
        t.is(r.refused.field, expected.field, r.sample.where);
        t.regex(r.refused.message, expected.why, r.sample.where);
      }
    }
  }
  const templated = SAMPLE_FILES.flatMap((f) => samplesOf(f, ROOT, KINDS)).filter((s) => s.templated);
  t.log(`${all.length} samples, ${templated.length} left out (shell variables no shell expanded): ${templated.map((s) => s.where).join(', ')}`);
  t.true(all.length >= 60, `${all.length} samples applied or refused`);
});

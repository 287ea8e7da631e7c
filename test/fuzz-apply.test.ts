// fast-check fuzz of `ipam apply -f` (straight to etcd): malformed YAML, wrong shapes, invalid CIDRs, IPv4/IPv6
// mix-ups and unknown fields under strict validation get a clear error naming the field, and write nothing.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { apply } from '../src/cli/commands/apply.js';
import { parseManifests } from '../src/cli/manifests.js';
import { openStore, sharedEtcd } from './helpers/store.js';

const RUNS = Number(process.env.IPAM_FUZZ_RUNS ?? 120);
const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const KNOWN = new Set(['ipVersion', 'subnet', 'ips', 'excludeIPs', 'gateway', 'vlan', 'routes', 'default', 'disable', 'namespaceAffinity', 'namespaceName', 'nodeAffinity', 'nodeName', 'podAffinity', 'multusName', 'scope']);

const pool = (spec: Record<string, unknown>) => stringify({ apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'fz' }, spec });
const good = { ipVersion: 4, subnet: '10.91.0.0/24', ips: ['10.91.0.10-10.91.0.20'] };

const badCidr = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.tuple(fc.integer({ min: 256, max: 999 }), fc.integer({ min: 0, max: 32 })).map(([o, p]) => `10.${o}.0.0/${p}`),
  fc.integer({ min: 33, max: 300 }).map((p) => `10.91.0.0/${p}`),
  fc.integer({ min: 129, max: 400 }).map((p) => `fd00::/${p}`),
  fc.constantFrom('10.91.0.1/24', '10.91.0.0', '10.91.0.0/-1', '10.91.0.0/24/8', ' 10.91.0.0/24', '0x0a.0.0.0/8'),
);
const hostile = fc.oneof(
  fc.string({ maxLength: 300 }), // YAML that is a scalar, broken, or not a Kubernetes object
  fc.nat({ max: pool(good).indexOf('  ips:') }).map((n) => pool(good).slice(0, n)).filter((s) => s.trim().length > 0), // truncated before spec.ips
  fc.constantFrom('a: [1, 2\n', 'kind: SpiderIPPool\n\tspec: {}\n', '{"kind": "SpiderIPPool"', '- 1\n- 2\n', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'),
  badCidr.map((subnet) => pool({ ...good, subnet })),
  badCidr.filter((r) => r !== '10.91.0.0').map((r) => pool({ ...good, ips: [r] })), // (a bare address is a valid entry)
  // IPv4/IPv6 mix-ups
  fc.constantFrom(
    { ipVersion: 4, subnet: 'fd00:91::/120', ips: ['fd00:91::10'] },
    { ipVersion: 6, subnet: '10.91.0.0/24', ips: ['10.91.0.10'] },
    { ...good, ips: ['fd00:91::10'] },
    { ...good, gateway: 'fd00:91::1' },
    { ...good, routes: [{ dst: 'fd00:1::/64', gw: '10.91.0.1' }] },
    { ...good, excludeIPs: ['fd00:91::10'] },
    { ...good, ipVersion: '4' },
  ).map(pool),
  // unknown fields under strict validation
  fc.string({ minLength: 1, maxLength: 16 }).filter((k) => !KNOWN.has(k) && k !== '__proto__').map((k) => pool({ ...good, [k]: 1 })),
);

test('apply -f: hostile manifests get a clear error and write nothing', async (t) => {
  const { endpoints } = await sharedEtcd();
  const s = await openStore();
  t.teardown(() => s.close());
  const dir = mkdtempSync(join(tmpdir(), 'ipam-fuzz-apply-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'in.yaml');
  const g = { etcd: endpoints.join(','), prefix: s.prefix, dataDir: dir };
  const out = process.stdout.write.bind(process.stdout);
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(hostile, async (text) => {
      tried++;
      writeFileSync(file, text);
      let docs = -1;
      try {
        docs = parseManifests(text, 'in.yaml').length;
      } catch {
        /* apply must fail the same way */
      }
      process.stdout.write = () => true; // apply reports on stdout
      try {
        await apply(g, { file, dryRun: false, validate: 'strict' });
      } catch (e) {
        const m = (e as Error).message;
        const ok = typeof m === 'string' && m.length > 0 && !/\[object Object\]|^undefined/.test(m);
        if (!ok) t.log(`unclear error for ${JSON.stringify(text).slice(0, 200)}: ${m}`);
        return ok;
      } finally {
        process.stdout.write = out;
      }
      if (docs !== 0) t.log(`accepted: ${JSON.stringify(text).slice(0, 300)}`);
      return docs === 0; // only an input with no documents may pass (nothing to apply)
    }),
    { numRuns: RUNS },
  );
  t.log(`${tried} hostile manifests`);
  t.is(await s.store.headRevision(), 0, 'nothing written');

  // The real command: exit 2 and the field named, from stdin.
  for (const [text, want] of [
    [pool({ ...good, subnet: '10.91.0.0/33' }), /spec\.subnet/],
    [pool({ ...good, gateway: 'fd00:91::1' }), /spec\.gateway/],
    [pool({ ...good, colour: 'blue' }), /spec\.colour/],
    ['kind: [', /not valid YAML/],
  ] as const) {
    const r = await new Promise<{ code: number; stderr: string }>((ok) => {
      const child = execFile(process.execPath, [CLI, '--etcd', g.etcd, '--prefix', s.prefix, 'apply', '-f', '-'], { timeout: 20_000 }, (err, _o, stderr) => ok({ code: err ? Number((err as { code?: number }).code) : 0, stderr }));
      child.stdin!.end(text);
    });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, want);
  }
  t.is(await s.store.headRevision(), 0, 'nothing written by the command either');
});

// `bench http --client wrk`: load from wrk (Debian's C load generator), so the client's own CPU does not eat the
// daemon's share of this 2-core machine (a Node HTTP client costs ~170 us of CPU per request here).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServeProcess } from '../../src/local/serve-process.js';

const SCRIPT = resolve(fileURLToPath(import.meta.url), '../../../../bench/http/wrk-alloc.lua');

export interface WrkRun {
  readonly requests: number;
  readonly seconds: number;
  readonly perSec: number;
  /** wrk's latency distribution (ms). */
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Acknowledged allocations: (address, pod). */
  readonly acks: { address: string; id: string }[];
  /** Answers other than 200/201, with the first few bodies. */
  readonly errors: number;
  readonly errorMessages: string[];
}

const toMs = (v: string): number => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
};

/** One wrk run against one daemon: `connections` keep-alive connections on 2 threads for `seconds`. */
export async function runWrk(d: ServeProcess, o: { connections: number; seconds: number; podPrefix: string }): Promise<WrkRun> {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-wrk-'));
  try {
    const threads = Math.min(2, o.connections);
    const stdout = await new Promise<string>((ok, fail) =>
      execFile(
        'wrk',
        [`-t${threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '10s', '-s', SCRIPT, d.url],
        { env: { ...process.env, TOKEN: d.token, POD_PREFIX: o.podPrefix, OUT: join(dir, 'answers') }, timeout: (o.seconds + 30) * 1000 },
        (err, out, errOut) => (err ? fail(new Error(`wrk failed (is it installed? deploy/local/bench.sh installs it): ${err.message}\n${errOut}`)) : ok(out)),
      ),
    );
    const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(stdout)?.[1] ?? '');
    const requests = Number(/(\d+) requests in ([\d.]+)(\w+)/.exec(stdout)?.[1] ?? NaN);
    const seconds = toMs(/\d+ requests in (\S+),/.exec(stdout)?.[1] ?? '') / 1000;
    const max = toMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1] ?? '');
    const acks: { address: string; id: string }[] = [];
    const errorMessages: string[] = [];
    let errors = 0;
    for (const f of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (!line) continue;
        const sp = line.indexOf(' ');
        const status = Number(line.slice(0, sp));
        const body = line.slice(sp + 1);
        if (status === 200 || status === 201) {
          const a = (JSON.parse(body) as { allocations: { address: string; endpoint: { name: string } }[] }).allocations[0]!;
          acks.push({ address: a.address, id: a.endpoint.name });
        } else {
          errors++;
          if (errorMessages.length < 5) errorMessages.push(`HTTP ${status}: ${body.slice(0, 200)}`);
        }
      }
    }
    return { requests, seconds, perSec: acks.length / seconds, latencyMs: { p50: pct('50'), p90: pct('90'), p99: pct('99'), max }, acks, errors, errorMessages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

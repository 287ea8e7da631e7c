// CPU time a process has used (user + system), from /proc/<pid>/stat: for CPU per operation of each process in a run.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Seconds of CPU `pid` has used so far; undefined when it cannot be read (gone, not Linux). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): state is the 1st, utime the 12th, stime the 13th.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The sum over `pids` (e.g. a local etcd's members); undefined when there are none or any cannot be read. */
export function cpuSecondsOfAll(pids: readonly number[] | undefined): number | undefined {
  if (!pids?.length) return undefined;
  let n = 0;
  for (const p of pids) {
    const s = cpuSeconds(p);
    if (s === undefined) return undefined;
    n += s;
  }
  return n;
}

/**
 * The rate `cores` would give at this CPU per unit had they nothing else to do and the work spread perfectly:
 * units x cores / CPU-seconds (the bound a benchmark's own CPU figures set on its rate).
 */
export function rateOnCores(units: number, cpuSeconds: number, cores = availableParallelism()): number {
  return cpuSeconds > 0 ? (units * cores) / cpuSeconds : Infinity;
}

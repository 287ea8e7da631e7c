// Lock files held for a process's life: "<path>" holds the owner's pid and the kernel's start time of that pid, so
// a lock left by a crashed process is recognised as stale (even if its pid was reused) and taken over.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export interface ProcessId {
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  readonly start: string;
}

/** The process `pid` as the kernel knows it now; undefined if there is none. */
export function processId(pid: number): ProcessId | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name in () may hold spaces
    return { pid, start: fields[19]! };
  } catch {
    return undefined;
  }
}

/** Whether `id` names a process that is still running (the same one, not a reuse of its pid). */
export function isAlive(id: ProcessId): boolean {
  return processId(id.pid)?.start === id.start;
}

export function readProcessId(path: string): ProcessId | undefined {
  try {
    const [pid, start] = readFileSync(path, 'utf8').trim().split(' ');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && start ? { pid: n, start } : undefined;
  } catch {
    return undefined;
  }
}

export function writeProcessId(path: string, id: ProcessId): void {
  writeFileSync(path, `${id.pid} ${id.start}\n`, { mode: 0o600 });
}

export class LockHeld extends Error {
  constructor(
    readonly path: string,
    readonly holder: ProcessId,
    what: string,
  ) {
    super(`${what} is in use by process ${holder.pid} (lock file ${path}); stop that process first, or use another path`);
  }
}

export class PathLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly me: ProcessId,
    /** The holder of a stale lock this one replaced (a crashed process), if any. */
    readonly previous: ProcessId | undefined,
  ) {}

  /** Takes the lock at `path` for this process; a live holder is refused (LockHeld), a dead one's lock is taken over. */
  static acquire(path: string, what: string): PathLock {
    const me = processId(process.pid)!;
    const content = `${me.pid} ${me.start}\n`;
    try {
      writeFileSync(path, content, { flag: 'wx', mode: 0o600 });
      return new PathLock(path, me, undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readProcessId(path);
    if (holder && isAlive(holder) && holder.pid !== me.pid) throw new LockHeld(path, holder, what);
    // Stale: replaced in one rename; read back, so of two processes taking it over at once only the last one wins.
    const tmp = `${path}.${me.pid}`;
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, path);
    const now = readProcessId(path);
    if (now?.pid !== me.pid) throw new LockHeld(path, now ?? holder!, what);
    return new PathLock(path, me, holder);
  }

  /** Removes the lock file if it is still this process's. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (readProcessId(this.path)?.pid === this.me.pid) rmSync(this.path, { force: true });
  }
}

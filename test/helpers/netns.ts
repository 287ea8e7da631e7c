// Network namespaces a test creates with `ip netns add` (unique names) and removes, with everything in them, even
// when the test fails. Links (bridges, veths) are made inside these namespaces only, so removing them removes all.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 });
  return stdout;
}

export class Netns {
  readonly made: string[] = [];
  /** A short random tag for names (interface names hold at most 15 bytes). */
  readonly tag = randomBytes(3).toString('hex');

  async add(role: string): Promise<string> {
    const name = `ipes-${this.tag}-${role}`;
    await ip('netns', 'add', name);
    this.made.push(name);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** Deletes every namespace made here (idempotent); the links inside go with them. */
  async removeAll(): Promise<void> {
    for (const name of this.made.splice(0)) await ip('netns', 'delete', name).catch(() => undefined);
  }

  /** Namespaces whose names carry this tag that still exist. */
  async leftovers(): Promise<string[]> {
    return (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.includes(`ipes-${this.tag}-`));
  }
}

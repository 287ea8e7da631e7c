// Which member of a local etcd cluster is the leader: each running member is asked for its status.
import type { LocalEtcd, LocalEtcdMember } from '../../src/local/etcd.js';
import { sleep } from '../../src/local/ports.js';
import { openEtcd } from '../../src/store/connect.js';

async function status(m: LocalEtcdMember): Promise<{ self: string; leader: string }> {
  const c = openEtcd({ endpoints: [m.endpoint], callTimeoutMs: 1000, dialTimeoutMs: 1000 });
  try {
    const s = await c.maintenance.status();
    return { self: String(s.header.member_id), leader: String(s.leader) };
  } finally {
    c.close();
  }
}

/** The current leader, once the running members agree on one (waits up to `timeoutMs`, e.g. during an election). */
export async function leaderOf(etcd: LocalEtcd, timeoutMs = 15_000): Promise<LocalEtcdMember> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const running = etcd.members.filter((m) => m.running);
    const answers = await Promise.all(running.map((m) => status(m).catch(() => undefined)));
    const leaders = new Set(answers.map((a) => a?.leader));
    if (leaders.size === 1 && !leaders.has(undefined) && !leaders.has('0')) {
      const i = answers.findIndex((a) => a!.self === a!.leader);
      if (i >= 0) return running[i]!;
    }
    if (Date.now() > until) throw new Error(`no agreed etcd leader within ${timeoutMs} ms`);
    await sleep(100);
  }
}

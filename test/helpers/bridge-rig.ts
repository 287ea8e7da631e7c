// The end-to-end rig of the CNI tests: a real `ipam serve` on a fresh prefix, a reader of its log, three network
// namespaces (a host side and two pods) and a CNI_PATH holding Debian's bridge plugin and our binary; all torn down.
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe } from '../../src/local/serve-process.js';
import { pluginBinary } from './cni.js';
import { Netns } from './netns.js';
import { freshPrefix, openStore, sharedEtcd } from './store.js';

const DEBIAN_CNI = '/usr/lib/cni';

export async function bridgeRig(t: ExecutionContext) {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const daemon = await startServe({ endpoints, prefix, node: 'e2e-node' });
  t.teardown(() => daemon.stop());
  const reader = await openStore({ prefix });
  t.teardown(() => reader.close());
  const ns = new Netns();
  t.teardown(() => ns.removeAll());
  const binDir = mkdtempSync(join(tmpdir(), 'ipam-cni-bin-'));
  t.teardown(() => rmSync(binDir, { recursive: true, force: true }));
  symlinkSync(join(DEBIAN_CNI, 'bridge'), join(binDir, 'bridge'));
  symlinkSync(pluginBinary(), join(binDir, 'ipam-es'));
  const host = await ns.add('h');
  const pods = { a: await ns.add('a'), b: await ns.add('b') };
  return { daemon, reader, ns, binDir, host, pods };
}

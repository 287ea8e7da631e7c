// deploy/cni: the init container's install script puts a working plugin in a CNI bin directory, and the documented
// NetworkAttachmentDefinitions are configs the plugin accepts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse } from 'yaml';
import { parseIpam, parseNetConf } from '../src/cni/config.js';
import { pluginBinary, ROOT, runPlugin } from './helpers/cni.js';

const run = promisify(execFile);
const INSTALL = join(ROOT, 'deploy/cni/install.sh');

test('install.sh copies the plugin into the CNI bin dir, executable, replacing an older copy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-cni-install-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, CNI_BIN_DIR: dir, IPAM_ES_PLUGIN: pluginBinary() };
  for (let i = 0; i < 2; i++) {
    const { stdout } = await run('sh', [INSTALL], { env });
    t.regex(stdout, /ipam-es installed in/);
  }
  const installed = join(dir, 'ipam-es');
  t.is(statSync(installed).mode & 0o777, 0o755);
  const v = await runPlugin(installed, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
  t.like(JSON.parse(v.stdout), { cniVersion: '1.0.0' });
  const missing = await run('sh', [INSTALL], { env: { ...env, CNI_BIN_DIR: join(dir, 'nope') } }).catch((e: { stderr: string; code: number }) => e);
  t.regex((missing as { stderr: string }).stderr, /nope does not exist: mount the host's \/opt\/cni\/bin/);
});

for (const file of ['macvlan-nad.yaml', 'macvlan-pools-nad.yaml']) {
  test(`deploy/cni/${file} is a config the plugin accepts`, (t) => {
    const nad = parse(readFileSync(join(ROOT, 'deploy/cni', file), 'utf8')) as { kind: string; spec: { config: string } };
    t.is(nad.kind, 'NetworkAttachmentDefinition');
    const conf = parseNetConf(nad.spec.config);
    t.like(conf.raw, { type: 'macvlan', ipam: { type: 'ipam-es' } });
    t.notThrows(() => parseIpam(conf.raw));
  });
}

// Debian's kubectl (/usr/bin/kubectl, a client no one here wrote) run with a given kubeconfig, its own cache dir and
// HOME, asynchronously (the server may answer from this same process).
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const KUBECTL = '/usr/bin/kubectl';

export interface KubectlRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function kubectlIn(dir: string, kubeconfig: string, env: NodeJS.ProcessEnv = {}) {
  return (...args: string[]): Promise<KubectlRun> =>
    new Promise((resolve) => {
      execFile(
        KUBECTL,
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), '--request-timeout', '20s', ...args],
        { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, ...env }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}

// The daemon's CNI endpoint, mounted on its unix socket only: POST /v1/cni (see wire.ts for the exchange).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Allocator } from '../alloc/allocator.js';
import type { ClusterInputs } from '../k8s/cluster-inputs.js';
import { CniHandler, type CniHandlerOptions, type CniOutcome } from './handler.js';
import { CNI_VERSION, CniError, CniErrorCode, errorResult, isCniError } from './protocol.js';
import { envFromHeaders, EXIT_CODE_HEADER, MAX_STDIN_BYTES } from './wire.js';

export interface CniDeps {
  readonly allocator: Allocator;
  /** This node's name, recorded on every allocation; GC only touches this node's allocations. */
  readonly node: string;
  /** False while the daemon cannot serve (starting, etcd unreachable): calls answer "try again later". */
  ready(): boolean;
  /** The daemon's caches of pods, namespaces and its node (`serve --kubeconfig`); absent outside Kubernetes. */
  readonly cluster?: ClusterInputs;
}

export function createCniRoute(deps: CniDeps, opts: CniHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const handler = new CniHandler(deps, opts);
  return async (req, res) => {
    let status = 200;
    let outcome: CniOutcome;
    try {
      if (req.method !== 'POST') {
        status = 405;
        throw new CniError(CniErrorCode.IoFailure, `${req.method ?? 'request'} is not accepted`, 'the CNI endpoint takes POST only');
      }
      const env = envFromHeaders(req.headers);
      outcome = await handler.handle(env, await readStdin(req));
    } catch (e) {
      const err = isCniError(e) ? e : new CniError(CniErrorCode.IoFailure, 'could not read the call', (e as Error).message);
      outcome = { exitCode: 1, stdout: JSON.stringify(errorResult(CNI_VERSION, err)) };
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(outcome.stdout),
      [EXIT_CODE_HEADER]: String(outcome.exitCode),
    });
    res.end(outcome.stdout);
  };
}

async function readStdin(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_BYTES) throw new CniError(CniErrorCode.IoFailure, 'network configuration too large', `stdin exceeds ${MAX_STDIN_BYTES} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

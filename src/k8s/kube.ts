// Kubernetes client configuration and the error facts callers act on.
import { ApiException, KubeConfig } from '@kubernetes/client-node';

/** From an explicit kubeconfig file, else client-node's defaults ($KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error(`no current cluster in the kubeconfig${file ? ` ${file}` : ''}; give --kubeconfig or run in a pod`);
  return kc;
}

/** The HTTP status of a failed API call, when it has one. */
export function httpStatus(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const code = (e as { code?: unknown; statusCode?: unknown } | null)?.code ?? (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (e: unknown): boolean => httpStatus(e) === 404;
export const isConflict = (e: unknown): boolean => httpStatus(e) === 409;

/** Resolves with `p`, or rejects after `ms` (a slow API server must not hold up the caller). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

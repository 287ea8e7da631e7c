// Opening an etcd3 client from configuration (endpoints, TLS client certificates, user/password).
import { readFileSync } from 'node:fs';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry, type IDefaultPolicyContext, type IPolicy } from 'cockatiel';
import { Etcd3, EtcdPermissionDeniedError, isRecoverableError, type IOptions } from 'etcd3';
import { EtcdNoSpace, isNoSpaceAnswer } from './errors.js';

export interface EtcdConnection {
  readonly endpoints: readonly string[];
  /** PEM file paths for TLS client authentication. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly auth?: { readonly username: string; readonly password: string };
  /** Deadline of one unary call, ms (default 5000). */
  readonly callTimeoutMs?: number;
  /** How long to wait for a first connection, ms (default 5000). */
  readonly dialTimeoutMs?: number;
}

/** Reads ETCD_ENDPOINTS, ETCD_CACERT, ETCD_CERT, ETCD_KEY, ETCD_USER, ETCD_PASSWORD (etcdctl's names). */
export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env): EtcdConnection | undefined {
  const endpoints = (env.ETCD_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) return undefined;
  const tls = env.ETCD_CERT || env.ETCD_CACERT ? { caFile: env.ETCD_CACERT, certFile: env.ETCD_CERT, keyFile: env.ETCD_KEY } : undefined;
  const auth = env.ETCD_USER ? { username: env.ETCD_USER, password: env.ETCD_PASSWORD ?? '' } : undefined;
  return { endpoints, ...(tls ? { tls } : {}), ...(auth ? { auth } : {}) };
}

export function openEtcd(conn: EtcdConnection): Etcd3 {
  const timeout = conn.callTimeoutMs ?? 5000;
  const opts: IOptions = {
    hosts: [...conn.endpoints],
    dialTimeout: conn.dialTimeoutMs ?? 5000,
    // Log pages can be several MiB; gRPC's default cap is 4 MiB.
    grpcOptions: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 },
    // Streams (watch) must not carry a deadline; unary calls do, so a dead etcd gives an error, not a hang.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      host: () => hostPolicy(),
      // etcd3's default (3 attempts on recoverable errors); EtcdNoSpace is not one, so a full etcd is asked once.
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 3 }),
    },
  };
  if (conn.tls) {
    opts.credentials = {
      rootCertificate: conn.tls.caFile ? readFileSync(conn.tls.caFile) : Buffer.alloc(0),
      ...(conn.tls.certFile ? { certChain: readFileSync(conn.tls.certFile) } : {}),
      ...(conn.tls.keyFile ? { privateKey: readFileSync(conn.tls.keyFile) } : {}),
    };
  }
  if (conn.auth) opts.auth = { username: conn.auth.username, password: conn.auth.password };
  return new Etcd3(opts);
}

/**
 * etcd3's default per-host circuit breaker (open for 5 s after 3 consecutive recoverable failures), except that two
 * answers of a healthy etcd are not counted as a failing host. NOSPACE (gRPC RESOURCE_EXHAUSTED, which etcd3 deems
 * recoverable) becomes EtcdNoSpace: before, three refused writes opened the circuit so reads failed too ("circuit
 * breaker is open"), every refusal closed the host's gRPC channels (the watch included), and the alarm was never
 * named. A refused maintenance call (gRPC UNKNOWN "auth: permission denied") becomes EtcdPermissionDeniedError.
 */
function hostPolicy(): IPolicy<IDefaultPolicyContext> {
  const breaker = circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(3) });
  return {
    _altReturn: undefined as never,
    onSuccess: breaker.onSuccess,
    onFailure: breaker.onFailure,
    execute: (fn, signal) =>
      breaker.execute(async (ctx) => {
        try {
          return await fn(ctx);
        } catch (e) {
          if (isNoSpaceAnswer(e)) throw new EtcdNoSpace(e);
          if (isRecoverableError(e as Error) && /auth: permission denied/.test((e as Error).message)) throw new EtcdPermissionDeniedError((e as Error).message);
          throw e;
        }
      }, signal),
  };
}

/** Redacts what must never reach a log line. */
export function describeConnection(conn: EtcdConnection): string {
  return `${conn.endpoints.join(',')}${conn.tls ? ' (tls)' : ''}${conn.auth ? ` (user ${conn.auth.username})` : ''}`;
}

/**
 * Asks etcd for its revision once, so a wrong endpoint or certificate fails here with a message that says what to
 * check, instead of later as a bare gRPC status. It reads a key under `prefix` (the engine's head), so an etcd user
 * whose role covers only the prefix may probe.
 */
export async function probeEtcd(client: Etcd3, conn: EtcdConnection, prefix = '/ipam/'): Promise<number> {
  try {
    const res = await client.kv.range({ key: Buffer.from(`${prefix}head`), count_only: true });
    return Number(res.header.revision);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const hint = /permission denied/.test(why)
      ? `user ${conn.auth?.username ?? '(none)'} may not read ${prefix}: its role needs readwrite on the prefix (etcdctl role grant-permission ROLE readwrite ${prefix} --prefix=true)`
      : conn.tls
      ? 'check ETCD_CACERT (the CA that signed etcd\'s certificate) and ETCD_CERT / ETCD_KEY (a client certificate etcd trusts)'
      : 'check the endpoint; if etcd requires TLS client certificates, set ETCD_CACERT, ETCD_CERT and ETCD_KEY';
    throw new Error(`cannot reach etcd at ${describeConnection(conn)}: ${why}; ${hint}`);
  }
}

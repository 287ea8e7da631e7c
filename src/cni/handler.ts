// The CNI commands against the allocator: one call in (environment + stdin), the plugin's exit code and stdout out.
import type { AllocateRequest, Endpoint } from '../alloc/types.js';
import { parseCall, type CniCall, type CniEnv } from './call.js';
import { parseIpam, parseNetConf, prevResultAddresses, validAttachments, type NetConf, type RangeIpam } from './config.js';
import { toCniError } from './errors.js';
import { isAllocError } from '../alloc/errors.js';
import { SelectionLevel } from '../upstream/spiderpool/selection.js';
import { AUTO_POOL_WAIT_MS, explainRefusal, selectForAdd } from './pod-selection.js';
import { poolsInUse, unavailableReason } from './pool-status.js';
import { CNI_VERSION, CniCommand, CniError, CniErrorCode, errorResult, SUPPORTED_VERSIONS } from './protocol.js';
import { RangePools } from './range-pools.js';
import { rangeRequests } from '../upstream/whereabouts/pools.js';
import { withEnvArgs } from '../upstream/whereabouts/config.js';
import { isInputError } from '../net/errors.js';
import type { CniDeps } from './route.js';
import { ipamResult } from './result.js';

export interface CniOutcome {
  readonly exitCode: number;
  /** What the plugin prints on stdout: a result, an error result, or nothing. */
  readonly stdout: string;
}

export interface CniHandlerOptions {
  /** A call still running after this many ms answers "try again later" (ADD is idempotent, so a retry is safe). */
  readonly deadlineMs?: number;
  /** The clock, for the time recorded in events. */
  readonly now?: () => Date;
  /** How long an ADD of a pod naming a SpiderSubnet waits for its workload's auto pool (ms, default 15000). */
  readonly autoPoolWaitMs?: number;
}

const OK_EMPTY: CniOutcome = { exitCode: 0, stdout: '' };

export class CniHandler {
  private readonly rangePools: RangePools;
  private readonly deadlineMs: number;
  private readonly now: () => Date;
  private readonly autoPoolWaitMs: number | undefined;

  constructor(
    private readonly deps: CniDeps,
    opts: CniHandlerOptions = {},
  ) {
    this.rangePools = new RangePools(deps.allocator);
    this.deadlineMs = opts.deadlineMs ?? 25_000;
    this.now = opts.now ?? (() => new Date());
    this.autoPoolWaitMs = opts.autoPoolWaitMs;
  }

  async handle(env: CniEnv, stdin: string): Promise<CniOutcome> {
    let version = CNI_VERSION;
    try {
      const call = parseCall(env);
      if (call.command === CniCommand.Version) return versionAnswer(stdin);
      const conf = parseNetConf(stdin);
      version = conf.cniVersion;
      // Not ready because etcd is full: let the call go through, so it gets etcd's own answer (EtcdNoSpace, or success
      // once the alarm is disarmed) rather than a vague "not ready".
      if (!this.deps.ready() && this.deps.fault?.() === undefined) {
        const code = call.command === CniCommand.Status ? CniErrorCode.NotAvailable : CniErrorCode.TryAgainLater;
        throw new CniError(code, 'the ipam-es daemon is not ready', 'it is starting or cannot reach etcd; try again later');
      }
      return await this.withDeadline(call, this.dispatch(call, conf));
    } catch (e) {
      return { exitCode: 1, stdout: JSON.stringify(errorResult(version, toCniError(e))) };
    }
  }

  private dispatch(call: CniCall, conf: NetConf): Promise<CniOutcome> {
    const at = this.now().toISOString();
    switch (call.command) {
      case CniCommand.Add:
        return this.add(call, conf, at);
      case CniCommand.Del:
        return this.del(call, at);
      case CniCommand.Check:
        return this.check(call, conf);
      case CniCommand.Gc:
        return this.gc(conf, at);
      case CniCommand.Status:
        return this.status(conf);
      case CniCommand.Version:
        return Promise.resolve(versionAnswer(''));
      default: {
        const never: never = call.command;
        throw new Error(`unhandled command ${String(never)}`);
      }
    }
  }

  private async add(call: CniCall, conf: NetConf, at: string): Promise<CniOutcome> {
    let ipam = parseIpam(conf.raw);
    // Pools, affinity labels, owner and requested addresses, from the caches and annotations: refusals write nothing
    // (so this comes before a range's pool is defined).
    const sel = await selectForAdd(this.deps.allocator.model, this.deps.cluster, call, conf, ipam, this.autoPoolWaitMs);
    if (ipam.kind === 'range') {
      // Whereabouts reads CNI_ARGS IP and GATEWAY as static addresses (its handleEnvArgs), not as addresses to allocate.
      const { ip, gateway } = call.args;
      if (ip || gateway) ipam = { ...ipam, whereabouts: inputToCni(() => withEnvArgs((ipam as RangeIpam).whereabouts, ip, gateway)) };
      await this.rangePools.ensure(ipam.pools, at);
      // Lowest free first: an address this node released a moment ago must be seen free (DEL then ADD gets it back).
      if ((ipam as RangeIpam).whereabouts.order === 'lowest') await this.deps.allocator.awaitOwnWrites();
    }
    const endpoint = this.endpoint(call);
    const req: AllocateRequest = {
      endpoint: sel.owner ? { ...endpoint, owner: sel.owner } : endpoint,
      at,
      affinity: sel.affinity,
      ...(ipam.kind === 'pools' ? (sel.pools ? { pools: sel.pools } : {}) : { ranges: rangeRequests(ipam.pools) }),
      ...(sel.addresses && ipam.kind === 'pools' ? { addresses: sel.addresses } : {}),
    };
    // Static addresses only (Whereabouts' `addresses` without a range): nothing to allocate.
    if (req.ranges?.length === 0) return answer(ipamResult(conf.cniVersion, [], ipam));
    const { allocations } = await this.allocateWaiting(req, sel.level === SelectionLevel.SubnetAutoPool).catch((e: unknown) => {
      throw explainRefusal(e, sel);
    });
    return answer(ipamResult(conf.cniVersion, allocations, sel.cleanGateway ? { ...ipam, cleanGateway: true } : ipam));
  }

  /**
   * An auto pool still smaller than its workload (the controller grows it moments after a scale-up) is waited for, as
   * Spiderpool's agent waits for the pool's desired size (isPoolIPsDesired), within the auto-pool wait.
   */
  private async allocateWaiting(req: AllocateRequest, autoPool: boolean) {
    const deadline = Date.now() + (this.autoPoolWaitMs ?? AUTO_POOL_WAIT_MS);
    for (;;) {
      try {
        return await this.deps.allocator.allocate(req);
      } catch (e) {
        if (!autoPool || !isAllocError(e) || e.code !== 'PoolExhausted' || Date.now() >= deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Releases what the attachment holds; holding nothing is success (DEL may be repeated). The ipam settings are not read. */
  private async del(call: CniCall, at: string): Promise<CniOutcome> {
    await this.deps.allocator.releaseContainer(call.containerID, call.ifname, at);
    return OK_EMPTY;
  }

  /** The attachment still holds addresses here, and every one of them is in the previous result. */
  private async check(call: CniCall, conf: NetConf): Promise<CniOutcome> {
    // SPEC.md (and libcni's skel): CHECK exists from 0.4.0 on.
    if (conf.cniVersion.startsWith('0.') && conf.cniVersion !== '0.4.0') {
      throw new CniError(CniErrorCode.IncompatibleVersion, 'config version does not allow CHECK', `cniVersion ${conf.cniVersion}: CHECK needs 0.4.0 or later`);
    }
    parseIpam(conf.raw);
    const expected = prevResultAddresses(conf.raw);
    const { allocator } = this.deps;
    await allocator.sync();
    const held = [...(allocator.model.byContainer.get(call.containerID) ?? [])]
      .map((id) => allocator.model.byId.get(id))
      .filter((r) => r !== undefined && r.endpoint.nic === call.ifname)
      .map((r) => `${r!.address}/${r!.prefixLength}`);
    const where = `container ${call.containerID} interface ${call.ifname}`;
    if (held.length === 0) throw new CniError(CniErrorCode.AllocationMissing, 'no address is allocated to this attachment', `${where} holds no address`);
    const missing = expected === undefined ? [] : held.filter((a) => !expected.includes(a));
    if (missing.length > 0) {
      throw new CniError(CniErrorCode.AllocationMissing, 'allocation differs from the previous result', `${where} holds ${missing.join(', ')}, which prevResult.ips does not list (it lists ${expected!.join(', ') || 'nothing'})`);
    }
    return OK_EMPTY;
  }

  /** Releases this node's allocations from this network's pools whose attachment is not in the valid list. */
  private async gc(conf: NetConf, at: string): Promise<CniOutcome> {
    const ipam = parseIpam(conf.raw);
    const valid = new Set(validAttachments(conf.raw).map((a) => `${a.containerID}\n${a.ifname}`));
    const { allocator, node } = this.deps;
    await allocator.sync();
    const pools = new Set(poolsInUse(allocator.model, ipam));
    const stale = [...allocator.model.byId.values()].filter(
      (r) => r.endpoint.node === node && pools.has(r.pool) && !valid.has(`${r.endpoint.containerID}\n${r.endpoint.nic}`),
    );
    const results = await Promise.allSettled(stale.map((r) => allocator.releaseById(r.allocationId, 'orphan', at)));
    // Released by someone else meanwhile (a DEL, another GC) is what GC wanted anyway.
    const failed = results.flatMap((r, i) => (r.status === 'rejected' && (r.reason as { code?: string })?.code !== 'StaleRelease' ? [`${stale[i]!.address}: ${(r.reason as Error).message}`] : []));
    if (failed.length > 0) {
      throw new CniError(CniErrorCode.TryAgainLater, `GC released ${stale.length - failed.length} of ${stale.length} stale addresses`, failed.slice(0, 5).join('; '));
    }
    return OK_EMPTY;
  }

  private async status(conf: NetConf): Promise<CniOutcome> {
    const ipam = parseIpam(conf.raw);
    const fault = this.deps.fault?.();
    if (fault) throw new CniError(CniErrorCode.NotAvailable, 'cannot serve ADD requests', fault.message);
    const reason = unavailableReason(this.deps.allocator.model, ipam);
    if (reason) throw new CniError(CniErrorCode.NotAvailable, 'cannot serve ADD requests', reason);
    return OK_EMPTY;
  }

  /** Outside Kubernetes (no K8S_POD_* arguments) the endpoint is the container itself. */
  private endpoint(call: CniCall): Endpoint {
    const { podNamespace, podName, podUid } = call.args;
    return {
      namespace: podNamespace ?? '',
      name: podName || call.containerID,
      uid: podUid || call.containerID,
      containerID: call.containerID,
      node: this.deps.node,
      nic: call.ifname,
    };
  }

  private withDeadline(call: CniCall, work: Promise<CniOutcome>): Promise<CniOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new CniError(CniErrorCode.TryAgainLater, 'try again later', `${call.command} did not complete within ${this.deadlineMs} ms (etcd slow or unreachable)`)),
        this.deadlineMs,
      );
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }
}

/** A bad CNI_ARGS value is the environment's fault: error 4, naming the argument. */
function inputToCni<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isInputError(e)) throw new CniError(CniErrorCode.InvalidEnvironment, `invalid environment variable ${e.field}`, `${e.field}: ${e.reason}`);
    throw e;
  }
}

function answer(body: unknown): CniOutcome {
  return { exitCode: 0, stdout: JSON.stringify(body) };
}

/** VERSION echoes the cniVersion it was given (SPEC.md, section 5), as the C client does when it answers itself. */
function versionAnswer(stdin: string): CniOutcome {
  let version = CNI_VERSION;
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && /^[0-9.]{1,15}$/.test(v)) version = v;
  } catch {
    // no configuration: answer in the newest version
  }
  return answer({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS });
}

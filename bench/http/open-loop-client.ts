// The HTTP open loop's client, run on a worker thread (open-loop-client-worker.ts): the same keep-alive https client
// and open-loop generator as before, measured where the bench process's own garbage collections cannot stop them.
import { Worker } from 'node:worker_threads';
import type { AllocOutcome } from '../alloc/types.js';
import type { OpenLoopOptions, OpenLoopResult } from '../lib/open-loop.js';
import type { DaemonEndpoint } from './client.js';

export interface ClientData {
  readonly daemon: DaemonEndpoint;
  readonly connections: number;
  /** Pod names are `${tag}-r{requester}-s{seq}`. */
  readonly tag: string;
}

type Answer = { index: number; value: AllocOutcome; ms: number };
type StepResult = Omit<OpenLoopResult<AllocOutcome>, 'pending'> & { pendingCount: number };

export type ClientRequest =
  | { id: number; kind: 'warm'; requesterBase: number; count: number }
  | { id: number; kind: 'one'; requester: number; count: number }
  | { id: number; kind: 'step'; step: number; options: OpenLoopOptions }
  | { id: number; kind: 'close' };

export type ClientReply =
  | { id: number; kind: 'warm'; allocations: { address: string; requester: number; seq: number }[] }
  | { id: number; kind: 'one'; p50Ms: number; allocations: { address: string; requester: number; seq: number }[] }
  | { id: number; kind: 'step'; result: StepResult }
  | { id: number; kind: 'late'; answers: { index: number; value: AllocOutcome }[] }
  | { id: number; kind: 'closed'; staleRetries: number }
  | { id: number; kind: 'error'; message: string };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface OpenLoopClient {
  /** `count` allocations over every connection, closed loop (requesters from `requesterBase`): opens them all. */
  warm(requesterBase: number, count: number): Promise<{ address: string; requester: number; seq: number }[]>;
  /** `count` allocations by one requester, closed loop: the unloaded p50 on the same client as the steps. */
  oneRequester(requester: number, count: number): Promise<{ p50Ms: number; allocations: { address: string; requester: number; seq: number }[] }>;
  /** One open-loop step: call i allocates pod (step, i). Its `pending` settle when the worker's late answers arrive. */
  step(step: number, options: OpenLoopOptions): Promise<OpenLoopResult<AllocOutcome>>;
  /** Closes the connections and the thread (once; again: the same answer); resolves with the requests sent again after a stale socket (client.ts). */
  close(): Promise<number>;
}

export async function startOpenLoopClient(data: ClientData): Promise<OpenLoopClient> {
  const worker = new Worker(new URL('./open-loop-client-worker.js', import.meta.url), { workerData: { daemon: { url: data.daemon.url, token: data.daemon.token, ca: data.daemon.ca }, connections: data.connections, tag: data.tag } satisfies ClientData });
  const waiting = new Map<number, (r: ClientReply) => void>();
  const lates = new Map<number, (answers: { index: number; value: AllocOutcome }[]) => void>();
  let failure: Error | undefined;
  worker.on('message', (r: ClientReply) => {
    if (r.kind === 'late') return lates.get(r.id)?.(r.answers);
    const w = waiting.get(r.id);
    waiting.delete(r.id);
    w?.(r);
  });
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiting.values()) w({ id: -1, kind: 'error', message: failure.message });
    waiting.clear();
    for (const l of lates.values()) l([]);
  };
  worker.on('error', fail);
  worker.on('exit', () => fail(new Error('the open-loop client thread has exited')));
  let closing: Promise<number> | undefined;
  let next = 0;
  const ask = <K extends ClientReply['kind']>(m: WithoutId<ClientRequest>, kind: K): Promise<Extract<ClientReply, { kind: K }>> =>
    new Promise((ok, fail) => {
      if (failure) return fail(failure);
      const id = next++;
      waiting.set(id, (r) => (r.kind === kind ? ok(r as Extract<ClientReply, { kind: K }>) : fail(new Error(r.kind === 'error' ? r.message : `open-loop client: ${r.kind} instead of ${kind}`))));
      worker.postMessage({ ...m, id } as ClientRequest);
    });
  return {
    async warm(requesterBase, count) {
      return (await ask({ kind: 'warm', requesterBase, count }, 'warm')).allocations;
    },
    async oneRequester(requester, count) {
      const { p50Ms, allocations } = await ask({ kind: 'one', requester, count }, 'one');
      return { p50Ms, allocations };
    },
    async step(step, options) {
      const id = next; // the id ask() is about to use: the late answers come under it
      const late = new Promise<{ index: number; value: AllocOutcome }[]>((ok) => lates.set(id, ok)).finally(() => lates.delete(id));
      const { result } = await ask({ kind: 'step', step, options }, 'step');
      const { pendingCount, ...rest } = result;
      // One promise per call still running; each settles once the worker reports (its own bounded wait).
      const pending = Array.from({ length: pendingCount }, (_, k) => late.then((xs) => xs[k]));
      return { ...rest, answers: rest.answers as Answer[], pending };
    },
    close() {
      closing ??= (async () => {
        try {
          return (await ask({ kind: 'close' }, 'closed')).staleRetries;
        } finally {
          await worker.terminate();
        }
      })();
      return closing;
    },
  };
}

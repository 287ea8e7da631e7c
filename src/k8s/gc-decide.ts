// Pure: whether an allocation's pod is gone and its address may be released, and why.
import { ReleaseReason } from '../../events/catalogue.js';
import type { AllocationRecord } from '../alloc/model.js';

/** What the API server says about the pod an allocation was made for (undefined: no such pod). */
export interface PodFacts {
  readonly uid: string;
  readonly phase?: string;
}

/** Kinds whose pods keep their addresses across incarnations (the allocator rebinds them on the next ADD). */
export const REUSE_KINDS: ReadonlySet<string> = new Set(['StatefulSet', 'VirtualMachineInstance', 'VirtualMachine']);

export type GcVerdict =
  | { readonly release: false; readonly why: string }
  | { readonly release: true; readonly reason: ReleaseReason; readonly why: string }
  /** The pod is gone but its owner reuses addresses: ask whether the owner still wants this one. */
  | { readonly release: 'ask-owner'; readonly why: string };

export function judge(rec: AllocationRecord, pod: PodFacts | undefined): GcVerdict {
  const reuse = REUSE_KINDS.has(rec.endpoint.owner?.kind ?? '');
  if (pod === undefined) return reuse ? { release: 'ask-owner', why: 'pod gone; its owner reuses addresses' } : { release: true, reason: ReleaseReason.PodGone, why: 'pod gone' };
  // An adopted Whereabouts allocation has no pod uid (Whereabouts keeps none): the pod of that name is its pod.
  if (rec.endpoint.uid !== '' && pod.uid !== rec.endpoint.uid) {
    // A StatefulSet pod or KubeVirt VM recreated under the same name takes its address back on its next ADD.
    return reuse ? { release: false, why: `new ${rec.endpoint.owner!.kind} incarnation; the address is reused` } : { release: true, reason: ReleaseReason.Orphan, why: `pod uid is now ${pod.uid}` };
  }
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return { release: true, reason: ReleaseReason.PodGone, why: `pod ${pod.phase}` };
  return { release: false, why: 'pod running' };
}

/** A StatefulSet keeps a pod's address while the pod's ordinal is below its replica count. */
export function statefulSetKeeps(podName: string, setName: string, replicas: number | undefined): boolean {
  const ordinal = Number(podName.slice(setName.length + 1));
  return podName.startsWith(`${setName}-`) && Number.isInteger(ordinal) && ordinal < (replicas ?? 1);
}

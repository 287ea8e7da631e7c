// Calico's naming rules for WorkloadEndpoint objects (projectcalico.org/v3).
import { createHash } from 'node:crypto';

/** The orchestrator name Calico uses for Kubernetes workloads. */
export const K8S_ORCHESTRATOR = 'k8s';

/** Calico's escaping of one name segment: every "-" is doubled, so a single "-" can separate segments. */
export function escapeDashes(segment: string): string {
  return segment.includes('-') ? segment.replaceAll('-', '--') : segment;
}

/**
 * The name Calico gives a WorkloadEndpoint: `<node>-<orchestrator>-<pod>-<endpoint>`, each segment with its
 * dashes doubled, e.g. ("node-1", "k8s", "web-7d9f", "eth0") → "node--1-k8s-web--7d9f-eth0".
 */
export function workloadEndpointName(node: string, orchestrator: string, pod: string, endpoint: string): string {
  return `${escapeDashes(node)}-${escapeDashes(orchestrator)}-${escapeDashes(pod)}-${escapeDashes(endpoint)}`;
}

/**
 * The host-side veth name Calico's CNI plugin gives a pod's primary interface: "cali" plus the first 11 hex
 * digits of sha1("<namespace>.<pod>") (Linux interface names are at most 15 characters).
 */
export function hostInterfaceName(namespace: string, pod: string, prefix = 'cali'): string {
  return prefix + createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11);
}

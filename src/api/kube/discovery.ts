// Discovery documents as the API server writes them: APIVersions (/api), APIGroupList (/apis), APIGroup,
// APIResourceList (/apis/<group>/<version>) and /version.
import { groupVersion, groups, verbsOf, type ResourceDef } from './resources.js';

/** The Kubernetes minor version whose API conventions this follows (kubectl picks its skew from it). */
export const KUBE_VERSION = { major: '1', minor: '32' } as const;

export function versionInfo() {
  return {
    major: KUBE_VERSION.major,
    minor: KUBE_VERSION.minor,
    gitVersion: `v${KUBE_VERSION.major}.${KUBE_VERSION.minor}.0+ipam-es`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch}`,
  };
}

/**
 * The core group is not served: /api answers APIVersions with no versions, which client-go's discovery (kubectl
 * api-resources, get, apply) reads as "no legacy group" (an empty /api/v1 made api-resources fail with exit 1).
 */
export function coreVersions() {
  return { kind: 'APIVersions', versions: [], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] };
}

function group(g: { group: string; version: string }) {
  const v = { groupVersion: groupVersion(g), version: g.version };
  return { name: g.group, versions: [v], preferredVersion: v };
}

export function groupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(group) };
}

export function groupDoc(name: string) {
  const g = groups().find((x) => x.group === name);
  return g && { kind: 'APIGroup', apiVersion: 'v1', ...group(g) };
}

function resourceEntries(r: ResourceDef) {
  const main = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: verbsOf(r),
    ...(r.shortNames.length > 0 ? { shortNames: [...r.shortNames] } : {}),
    ...(r.categories.length > 0 ? { categories: [...r.categories] } : {}),
  };
  if (!r.statusSubresource) return [main];
  // The status subresource is computed from the log: readable, not writable.
  return [main, { name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get'] }];
}

export function resourceList(groupName: string, version: string) {
  const g = groups().find((x) => x.group === groupName && x.version === version);
  if (!g) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(g), resources: g.resources.flatMap(resourceEntries) };
}

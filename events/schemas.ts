// Shape of every event type's data at its current version.
import type { EventType } from './catalogue.js';
import { arr, bool, int, obj, oneOf, opt, record, str, type Check } from './validate.js';

const ipVersion = oneOf(4, 6);
const route = obj({ dst: str, gw: str });
const selector = obj({
  matchLabels: opt(record(str)),
  matchExpressions: opt(arr(obj({ key: str, operator: oneOf('In', 'NotIn', 'Exists', 'DoesNotExist'), values: opt(arr(str)) }))),
});
const addressFields = {
  ipVersion,
  subnet: str,
  ips: arr(str),
  excludeIPs: opt(arr(str)),
  gateway: opt(str),
  vlan: opt(int),
  routes: opt(arr(route)),
};
const subnetSpec = obj(addressFields);
const poolSpec = obj({
  ...addressFields,
  default: opt(bool),
  disable: opt(bool),
  namespaceAffinity: opt(selector),
  namespaceName: opt(arr(str)),
  nodeAffinity: opt(selector),
  nodeName: opt(arr(str)),
  podAffinity: opt(selector),
  multusName: opt(arr(str)),
  scope: opt(str),
  order: opt(oneOf('scattered', 'lowest')),
  sharedAddresses: opt(bool),
});
const endpoint = obj({
  namespace: str,
  name: str,
  uid: str,
  containerID: str,
  node: str,
  nic: str,
  owner: opt(obj({ kind: str, name: str })),
});
const named = obj({ name: str });
const fieldsV1: Check = (v, p) => record(fieldsV1)(v, p);
const managedFields = arr(obj({ manager: str, operation: oneOf('Apply', 'Update'), apiVersion: str, time: str, fieldsType: oneOf('FieldsV1'), fieldsV1 }));
const meta = opt(obj({ labels: opt(record(str)), annotations: opt(record(str)), managedFields: opt(managedFields) }));

export const DATA_SCHEMAS: { readonly [T in EventType]: Check } = {
  SubnetDefined: obj({ name: str, spec: subnetSpec, metadata: meta }),
  SubnetChanged: obj({ name: str, spec: subnetSpec, metadata: meta }),
  SubnetRemoved: named,
  PoolDefined: obj({ name: str, spec: poolSpec, metadata: meta }),
  PoolChanged: obj({ name: str, spec: poolSpec, metadata: meta }),
  PoolRemoved: named,
  PoolCarved: obj({ subnet: str, pool: str, ips: arr(str) }),
  PoolReturned: obj({ subnet: str, pool: str, ips: arr(str) }),
  IPAllocated: obj({
    allocationId: str,
    pool: str,
    ipVersion,
    address: str,
    prefixLength: int,
    endpoint,
    gateway: opt(str),
    vlan: opt(int),
    routes: opt(arr(route)),
    reason: opt(oneOf('adopted')),
    adoptedFrom: opt(str),
  }),
  IPReleased: obj({
    allocationId: str,
    pool: str,
    address: str,
    reason: oneOf('cni-del', 'pod-gone', 'orphan', 'admin'),
    endpoint: obj({ namespace: str, name: str, nic: str, containerID: str }),
  }),
  IPReserved: obj({ name: str, ipVersion, ips: arr(str), metadata: meta }),
  IPUnreserved: named,
};

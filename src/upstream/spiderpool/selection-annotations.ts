// Spiderpool's pool-selection annotations as its source reads them (pkg/constant/k8s.go, pkg/types/k8s.go,
// pkg/ipam/pool_selections.go, pkg/ipam/utils.go, pkg/namespacemanager/utils.go,
// pkg/applicationcontroller/applicationinformers/utils.go): the JSON shapes, what each refuses, and the messages.
// Like Go's json.Unmarshal, unknown fields are ignored and null reads as absent; a wrong type is refused.

export const SpiderpoolAnnotation = {
  IPPool: 'ipam.spidernet.io/ippool',
  IPPools: 'ipam.spidernet.io/ippools',
  Subnet: 'ipam.spidernet.io/subnet',
  Subnets: 'ipam.spidernet.io/subnets',
  PoolIPNumber: 'ipam.spidernet.io/ippool-ip-number',
  PoolReclaim: 'ipam.spidernet.io/ippool-reclaim',
  NamespaceDefaultV4: 'ipam.spidernet.io/default-ipv4-ippool',
  NamespaceDefaultV6: 'ipam.spidernet.io/default-ipv6-ippool',
} as const;

/** A selection input that cannot be used: `source` names the annotation (or field), `reason` what is wrong. */
export class SelectionError extends Error {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = 'SelectionError';
  }
}

export function isSelectionError(e: unknown): e is SelectionError {
  return e instanceof SelectionError;
}

export interface PoolNames {
  readonly ipv4?: readonly string[];
  readonly ipv6?: readonly string[];
}

/** One `ippools` item (AnnoIPPoolItem): `interface` empty when the items name no interface. */
export interface IPPoolsItem extends PoolNames {
  readonly interface: string;
  readonly cleanGateway: boolean;
}

export interface SubnetItem {
  readonly interface: string;
  /** Upstream keeps only the first subnet named per family (mutateAndValidateSubnetAnno). */
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface SubnetAnnotation {
  readonly items: readonly SubnetItem[];
  /** From ippool-ip-number: "+N" is flexible (replicas + N), "N" fixed. Absent: flexible by the cluster default. */
  readonly ipNumber: { readonly flexible: boolean; readonly n: number } | undefined;
  /** ippool-reclaim (strconv.ParseBool), default true. */
  readonly reclaim: boolean;
}

type Annotations = Readonly<Record<string, string>>;

function json(source: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SelectionError(source, `invalid format of the annotation: ${(e as Error).message} (value ${JSON.stringify(text).slice(0, 120)})`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(source: string, field: string, v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SelectionError(source, `${field} must be a list of strings, got ${JSON.stringify(v).slice(0, 80)}`);
  return v as string[];
}

function str(source: string, field: string, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new SelectionError(source, `${field} must be a string, got ${JSON.stringify(v).slice(0, 80)}`);
  return v;
}

function names(source: string, o: Record<string, unknown>, where: string): PoolNames {
  const ipv4 = stringList(source, `${where}ipv4`, o.ipv4);
  const ipv6 = stringList(source, `${where}ipv6`, o.ipv6);
  return { ...(ipv4?.length ? { ipv4 } : {}), ...(ipv6?.length ? { ipv6 } : {}) };
}

/** ipam.spidernet.io/ippool: {"ipv4": [...], "ipv6": [...]} (AnnoPodIPPoolValue). */
export function parseIPPool(text: string): PoolNames {
  const source = SpiderpoolAnnotation.IPPool;
  const v = json(source, text);
  if (!isRecord(v)) throw new SelectionError(source, `must be an object {"ipv4": [pool names], "ipv6": [pool names]}, got ${JSON.stringify(v).slice(0, 80)}`);
  return names(source, v, '');
}

/**
 * ipam.spidernet.io/ippools: [{"interface", "ipv4", "ipv6", "cleangateway"}] (AnnoPodIPPoolsValue), checked as
 * validateAndMutateMultipleNICAnnotations does: at least one item, interfaces all given or all omitted, no duplicates,
 * and (when given) the interface being added must be one of them.
 */
export function parseIPPools(text: string, currentNic: string): IPPoolsItem[] {
  const source = SpiderpoolAnnotation.IPPools;
  const v = json(source, text);
  if (!Array.isArray(v)) throw new SelectionError(source, `must be a list of {"interface", "ipv4", "ipv6", "cleangateway"}, got ${JSON.stringify(v).slice(0, 80)}`);
  if (v.length === 0) throw new SelectionError(source, 'value requires at least one item');
  const items = v.map((it, i): IPPoolsItem => {
    if (!isRecord(it)) throw new SelectionError(source, `item ${i} must be an object, got ${JSON.stringify(it).slice(0, 80)}`);
    const cg = it.cleangateway;
    if (cg !== undefined && cg !== null && typeof cg !== 'boolean') throw new SelectionError(source, `[${i}].cleangateway must be true or false`);
    return { interface: str(source, `[${i}].interface`, it.interface), ...names(source, it, `[${i}].`), cleanGateway: cg === true };
  });
  const hasNic = items[0]!.interface !== '';
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if ((it.interface !== '') !== hasNic) throw new SelectionError(source, 'NIC should be either all specified or all unspecified');
    const nic = it.interface || String(i);
    if (seen.has(nic)) throw new SelectionError(source, `duplicate interface ${nic}`);
    seen.add(nic);
  });
  if (hasNic && !seen.has(currentNic)) throw new SelectionError(source, `interface ${currentNic} must be specified`);
  return items;
}

/**
 * The item of an `ippools` annotation that serves interface `nic`. Items that name no interface are taken in the
 * order Multus names a pod's interfaces (eth0, net1, net2, ...), the sequence Spiderpool itself relates them to
 * (selectByPod: item i is "net<i>"; item 0 is eth0).
 */
export function ipPoolsItemFor(items: readonly IPPoolsItem[], nic: string): IPPoolsItem {
  const named = items.find((it) => it.interface === nic);
  if (named) return named;
  const index = nic === 'eth0' ? 0 : /^net([1-9][0-9]*)$/.test(nic) ? Number(nic.slice(3)) : -1;
  const item = index >= 0 ? items[index] : undefined;
  if (!item || item.interface !== '') {
    const why = index < 0 ? `interface ${nic} is not one of Multus' default names (eth0, net1, net2, ...), so which item serves it is not known; name the interface in each item` : `it has ${items.length} item(s), none for interface ${nic} (item ${index})`;
    throw new SelectionError(SpiderpoolAnnotation.IPPools, why);
  }
  return item;
}

/** Namespace ipam.spidernet.io/default-ipv4-ippool / default-ipv6-ippool: JSON lists of pool names (GetNSDefaultPools). */
export function parseNamespaceDefaults(annotations: Annotations): PoolNames {
  const read = (key: string) => {
    const text = annotations[key];
    if (text === undefined) return undefined;
    return stringList(key, 'the value', json(key, text));
  };
  const ipv4 = read(SpiderpoolAnnotation.NamespaceDefaultV4);
  const ipv6 = read(SpiderpoolAnnotation.NamespaceDefaultV6);
  return { ...(ipv4?.length ? { ipv4 } : {}), ...(ipv6?.length ? { ipv6 } : {}) };
}

export const hasSubnetAnnotation = (a: Annotations): boolean => a[SpiderpoolAnnotation.Subnets] !== undefined || a[SpiderpoolAnnotation.Subnet] !== undefined;

/** GetPoolIPNumber: "+N" flexible, "N" fixed; at most one '+', a non-negative integer. */
export function parsePoolIPNumber(text: string): { flexible: boolean; n: number } {
  const source = SpiderpoolAnnotation.PoolIPNumber;
  const flexible = text.startsWith('+');
  const digits = flexible ? text.slice(1) : text;
  if (!/^[+-]?[0-9]+$/.test(digits) || (text.match(/\+/g) ?? []).length > 1) throw new SelectionError(source, `invalid input '${text}': want a number of IPs ("2") or a number above the replicas ("+1")`);
  const n = Number(digits);
  if (n < 0 || !Number.isSafeInteger(n)) throw new SelectionError(source, `subnet '${source}' value must equal or greater than 0`);
  return { flexible, n };
}

/** strconv.ParseBool's accepted spellings. */
function parseBool(source: string, text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new SelectionError(source, `failed to parse ${JSON.stringify(text)} as a boolean (true or false)`);
}

/** GetSubnetAnnoConfig + mutateAndValidateSubnetAnno: `subnets` wins over `subnet`; undefined when neither is set. */
export function parseSubnetAnnotation(a: Annotations): SubnetAnnotation | undefined {
  const multi = a[SpiderpoolAnnotation.Subnets];
  const single = a[SpiderpoolAnnotation.Subnet];
  if (multi === undefined && single === undefined) return undefined;
  const source = multi !== undefined ? SpiderpoolAnnotation.Subnets : SpiderpoolAnnotation.Subnet;
  const v = json(source, (multi ?? single)!);
  const item = (it: unknown, where: string): SubnetItem => {
    if (!isRecord(it)) throw new SelectionError(source, `${where}must be an object {"interface", "ipv4", "ipv6"}, got ${JSON.stringify(it).slice(0, 80)}`);
    const v4 = stringList(source, `${where}ipv4`, it.ipv4);
    const v6 = stringList(source, `${where}ipv6`, it.ipv6);
    const mode = multi !== undefined ? 'multiple interfaces' : 'single interface';
    if (v4?.length && v4[0] === '') throw new SelectionError(source, `it's invalid to set an empty IPv4 subnet with ${mode}`);
    if (v6?.length && v6[0] === '') throw new SelectionError(source, `it's invalid to set an empty IPv6 subnet with ${mode}`);
    if (!v4?.length && !v6?.length) throw new SelectionError(source, `it's invalid to set dual empty subnet with ${mode}`);
    return { interface: str(source, `${where}interface`, it.interface), ...(v4?.length ? { ipv4: v4[0]! } : {}), ...(v6?.length ? { ipv6: v6[0]! } : {}) };
  };
  let items: SubnetItem[];
  if (multi !== undefined) {
    if (!Array.isArray(v)) throw new SelectionError(source, `must be a list of {"interface", "ipv4", "ipv6"}, got ${JSON.stringify(v).slice(0, 80)}`);
    items = v.map((it, i) => item(it, `[${i}].`));
    const dup = (xs: (string | undefined)[]) => xs.filter((x) => x !== undefined).some((x, i, all) => all.indexOf(x) !== i);
    if (dup(items.map((i) => i.ipv4)) || dup(items.map((i) => i.ipv6))) throw new SelectionError(source, "it's invalid to use the same subnet for multiple interfaces");
    if (dup(items.map((i) => i.interface))) throw new SelectionError(source, "it's invalid to use the same Interface name for multiple interfaces");
  } else {
    const it = item(v, '');
    items = [{ ...it, interface: it.interface || 'eth0' }];
  }
  const num = a[SpiderpoolAnnotation.PoolIPNumber];
  const reclaim = a[SpiderpoolAnnotation.PoolReclaim];
  return {
    items,
    ipNumber: num === undefined ? undefined : parsePoolIPNumber(num),
    reclaim: reclaim === undefined ? true : parseBool(SpiderpoolAnnotation.PoolReclaim, reclaim),
  };
}

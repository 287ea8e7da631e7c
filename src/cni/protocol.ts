// The CNI protocol's vocabulary: commands, versions, error codes, and the error result every failure prints.
export const CniCommand = {
  Add: 'ADD',
  Del: 'DEL',
  Check: 'CHECK',
  Gc: 'GC',
  Status: 'STATUS',
  Version: 'VERSION',
} as const;
export type CniCommand = (typeof CniCommand)[keyof typeof CniCommand];

/** The newest version we speak; answers use the version of the network configuration. */
export const CNI_VERSION = '1.1.0';
/** Result formats we can print. 0.1.0 and 0.2.0 (ip4/ip6 results) are not supported. Keep in step with the C client. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The spec's well-known codes (0-99) and ours (100+). */
export const CniErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  /** STATUS: cannot serve ADD requests (daemon not ready, pools exhausted). */
  NotAvailable: 50,
  /** ADD: every candidate pool is full. */
  PoolExhausted: 100,
  /** ADD: pools exist but none may serve this pod (disabled, affinity). */
  NoPoolMatches: 101,
  /** CHECK: the attachment holds no address here, or not the ones its previous result lists. */
  AllocationMissing: 102,
  /** ADD: a requested address (ips capability, IP argument, ipAddrs annotation) is taken, reserved or outside the allowed pools. */
  AddressUnavailable: 103,
} as const;
export type CniErrorCode = (typeof CniErrorCode)[keyof typeof CniErrorCode];

/** A failure with the code the runtime acts on; `msg` is short, `details` says what to do. */
export class CniError extends Error {
  constructor(
    readonly code: CniErrorCode,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'CniError';
  }
}

export function isCniError(e: unknown): e is CniError {
  return e instanceof CniError;
}

/** The error result structure (SPEC.md, section 5). */
export function errorResult(version: string, e: CniError): Record<string, unknown> {
  return { cniVersion: version, code: e.code, msg: e.msg, ...(e.details ? { details: e.details } : {}) };
}

export function isSupportedVersion(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** 0.3.x and 0.4.0 results carry `version` on each IP; 1.x results do not. */
export function ipsCarryVersion(v: string): boolean {
  return v.startsWith('0.');
}

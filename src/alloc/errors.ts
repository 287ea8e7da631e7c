// Allocation errors: a code a caller (API, CNI plugin) can act on, the field at fault, and a message a person can act on.
import { InputError } from '../net/errors.js';

export const AllocErrorCode = {
  PoolNotFound: 'PoolNotFound',
  SubnetNotFound: 'SubnetNotFound',
  ReservationNotFound: 'ReservationNotFound',
  PoolExhausted: 'PoolExhausted',
  NoPoolMatches: 'NoPoolMatches',
  AlreadyExists: 'AlreadyExists',
  Overlap: 'Overlap',
  NotInSubnet: 'NotInSubnet',
  InUse: 'InUse',
  ShrinkBelowAllocations: 'ShrinkBelowAllocations',
  UnknownAllocation: 'UnknownAllocation',
  StaleRelease: 'StaleRelease',
  Conflict: 'Conflict',
  /** A requested address (static IP) cannot be given: taken, reserved, or outside every pool allowed for the pod. */
  AddressUnavailable: 'AddressUnavailable',
} as const;
export type AllocErrorCode = (typeof AllocErrorCode)[keyof typeof AllocErrorCode];

export class AllocError extends Error {
  constructor(
    readonly code: AllocErrorCode,
    readonly field: string,
    message: string,
    /** Whether trying the same request again later may succeed. */
    readonly retryable = false,
  ) {
    super(field ? `${field}: ${message}` : message);
  }
}

export function isAllocError(e: unknown): e is AllocError {
  return e instanceof AllocError;
}

/** True for every error that means "your request is wrong or impossible" (not a transient failure). */
export function isRejection(e: unknown): e is AllocError | InputError {
  return (e instanceof AllocError && !e.retryable) || e instanceof InputError;
}

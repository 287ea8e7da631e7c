// metav1.Status objects, as the Kubernetes API server writes them for failures, and the error type that carries one.
import { isAllocError, type AllocErrorCode } from '../../alloc/errors.js';
import { isInputError } from '../../net/errors.js';
import { isFieldError } from '../../upstream/field-error.js';

export const StatusReason = {
  BadRequest: 'BadRequest',
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  Conflict: 'Conflict',
  Invalid: 'Invalid',
  Expired: 'Expired',
  MethodNotAllowed: 'MethodNotAllowed',
  NotAcceptable: 'NotAcceptable',
  UnsupportedMediaType: 'UnsupportedMediaType',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
  Timeout: 'Timeout',
  TooManyRequests: 'TooManyRequests',
  ServiceUnavailable: 'ServiceUnavailable',
  InternalError: 'InternalError',
} as const;
export type StatusReason = (typeof StatusReason)[keyof typeof StatusReason];

export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message: string;
  readonly reason: StatusReason;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** A request that ends in a Status response. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const badRequest = (message: string, details?: StatusDetails) => new StatusError(400, 'BadRequest', message, details);

/** What the failing request was about: `SpiderIPPool.spiderpool.spidernet.io "pool-a"`. */
export interface Subject {
  readonly kind: string;
  readonly group: string;
  /** The plural resource name, e.g. spiderippools. */
  readonly resource: string;
  readonly name: string;
}

const qualified = (s: Subject) => (s.group ? `${s.resource}.${s.group}` : s.resource);

export function notFound(s: Subject): StatusError {
  return new StatusError(404, 'NotFound', `${qualified(s)} "${s.name}" not found`, { name: s.name, group: s.group, kind: s.resource });
}

export function alreadyExists(s: Subject): StatusError {
  return new StatusError(409, 'AlreadyExists', `${qualified(s)} "${s.name}" already exists`, { name: s.name, group: s.group, kind: s.resource });
}

export function conflict(s: Subject, why: string): StatusError {
  return new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(s)} "${s.name}": ${why}`, { name: s.name, group: s.group, kind: s.resource });
}

/** 422 Invalid, one cause per field, worded like the API server's field errors. */
export function invalid(s: Subject, causes: readonly StatusCause[]): StatusError {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const message = `${s.kind}.${s.group} "${s.name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`;
  return new StatusError(422, 'Invalid', message, { name: s.name, group: s.group, kind: s.kind, causes });
}

export function fieldInvalid(s: Subject, field: string, value: unknown, reason: string): StatusError {
  const required = reason.startsWith('is required');
  const shown = value === undefined || required ? '' : `Invalid value: ${JSON.stringify(value)}: `;
  return invalid(s, [{ reason: required ? 'FieldValueRequired' : 'FieldValueInvalid', message: `${shown}${reason}`, field }]);
}

// Allocator rejections about the state of other objects (not the request's shape).
const CONFLICTS: ReadonlySet<AllocErrorCode> = new Set(['InUse', 'Conflict', 'StaleRelease']);
const NOT_FOUND: ReadonlySet<AllocErrorCode> = new Set(['PoolNotFound', 'SubnetNotFound', 'ReservationNotFound', 'UnknownAllocation']);

/**
 * An error from the allocator (AllocError, InputError) or anything else, as a Status. `valueAt` finds the submitted
 * value of a field for the message.
 */
export function toStatusError(e: unknown, s: Subject, valueAt: (field: string) => unknown = () => undefined): StatusError {
  if (e instanceof StatusError) return e;
  if (isFieldError(e)) return invalid(s, [{ reason: e.type, message: e.reason, field: e.field }]); // worded already
  if (isInputError(e)) return fieldInvalid(s, e.field, valueAt(e.field), e.reason);
  if (isAllocError(e)) {
    const message = e.field ? e.message.slice(e.field.length + 2) : e.message;
    if (e.code === 'AlreadyExists') return alreadyExists(s);
    if (NOT_FOUND.has(e.code)) return notFound(s);
    if (CONFLICTS.has(e.code)) {
      const err = conflict(s, message);
      return e.retryable ? new StatusError(409, 'Conflict', err.message, { ...err.details, retryAfterSeconds: 1 }) : err;
    }
    return invalid(s, [{ reason: 'FieldValueInvalid', message, field: e.field || 'metadata.name' }]);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new StatusError(500, 'InternalError', `Internal error occurred: ${message}`);
}

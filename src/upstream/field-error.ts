// Kubernetes field errors (k8s.io/apimachinery/pkg/util/validation/field) as upstream admission webhooks return
// them: the same field path, type and wording, so a refusal reads as it does in front of the upstream project.
import { InputError } from '../net/errors.js';

export const FieldErrorType = {
  Invalid: 'FieldValueInvalid',
  Forbidden: 'FieldValueForbidden',
  NotSupported: 'FieldValueNotSupported',
  Required: 'FieldValueRequired',
} as const;
export type FieldErrorType = (typeof FieldErrorType)[keyof typeof FieldErrorType];

/** An InputError whose reason is already worded as field.Error.Error() words it ("Invalid value: ...: detail"). */
export class FieldError extends InputError {
  constructor(
    field: string,
    readonly type: FieldErrorType,
    readonly detail: string,
    reason: string,
  ) {
    super(field, reason);
    this.name = 'FieldError';
  }
}

export const isFieldError = (e: unknown): e is FieldError => e instanceof FieldError;

/** Go's %v / JSON of the offending value, as field.Invalid prints it (strings quoted, nil as null). */
function shown(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

export function fieldInvalid(field: string, value: unknown, detail: string): FieldError {
  return new FieldError(field, FieldErrorType.Invalid, detail, `Invalid value: ${shown(value)}: ${detail}`);
}

export function fieldForbidden(field: string, detail: string): FieldError {
  return new FieldError(field, FieldErrorType.Forbidden, detail, `Forbidden: ${detail}`);
}

export function fieldNotSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  return new FieldError(field, FieldErrorType.NotSupported, `supported values: ${list}`, `Unsupported value: ${shown(value)}: supported values: ${list}`);
}

/** The CRD schema's `required` (the API server checks it after mutation, before the validating webhook). */
export function fieldRequired(field: string): FieldError {
  return new FieldError(field, FieldErrorType.Required, 'Required value', 'Required value');
}

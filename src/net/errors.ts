/** A user-supplied value is malformed; `field` is the dotted path of the offending value (e.g. `spec.ips[2]`). */
export class InputError extends Error {
  readonly code = 'InvalidInput' as const;
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'InputError';
    this.field = field;
    this.reason = reason;
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}

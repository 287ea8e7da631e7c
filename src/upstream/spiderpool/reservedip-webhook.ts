// SpiderReservedIP admission as spidernet-io/spiderpool's webhook does it (pkg/reservedipmanager: reservedip_mutate.go,
// reservedip_validate.go): spec.ipVersion from spec.ips[0]; each entry an address or range of that version.
import type { IpVersion } from '../../../events/catalogue.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported } from '../field-error.js';
import { isAbsent, rangeOf, versionOfRange } from './ip.js';

export interface ReservedIPSpec {
  readonly ipVersion: unknown;
  readonly ips: unknown;
}

/** mutateReservedIP: ipVersion inferred from the first entry when absent. */
export function defaultReservedIP(spec: ReservedIPSpec): ReservedIPSpec {
  if (!isAbsent(spec.ipVersion) || !Array.isArray(spec.ips) || spec.ips.length === 0) return spec;
  const v = versionOfRange(spec.ips[0]);
  return v === undefined ? spec : { ipVersion: v, ips: spec.ips };
}

/** The webhook's verdict on a create (no `current`) or an update: the defaulted spec, or a FieldError. */
export function admitReservedIP(spec: ReservedIPSpec, current: { ipVersion: IpVersion } | undefined): ReservedIPSpec {
  const s = defaultReservedIP(spec);
  if (current !== undefined && !isAbsent(s.ipVersion) && s.ipVersion !== current.ipVersion) throw fieldForbidden('spec.ipVersion', 'is not changeable');
  if (isAbsent(s.ipVersion)) throw fieldInvalid('spec.ipVersion', null, "is not generated correctly, 'spec.ips' is empty or 'spec.ips[0]' may be invalid");
  if (s.ipVersion !== 4 && s.ipVersion !== 6) throw fieldNotSupported('spec.ipVersion', s.ipVersion, ['4', '6']);
  const version = s.ipVersion;
  if (Array.isArray(s.ips)) {
    s.ips.forEach((entry: unknown, i) => {
      const r = typeof entry === 'string' ? rangeOf(version, entry) : `invalid IPv${version} IP range: ${String(entry)}`;
      if (typeof r === 'string') throw fieldInvalid(`spec.ips[${i}]`, entry, r);
    });
  }
  return s;
}

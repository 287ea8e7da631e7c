// Any failure inside a CNI call as a CNI error: bad input 7 (naming the field), full pools 100, no pool for this pod
// 101, etcd out of space 110 (naming the alarm and the fix), transient trouble (etcd, conflicts, a slow commit) 11 so
// the runtime tries again.
import { isAllocError } from '../alloc/errors.js';
import { isInputError } from '../net/errors.js';
import { isEtcdNoSpace } from '../store/errors.js';
import { invalid } from './config.js';
import { CniError, CniErrorCode, isCniError } from './protocol.js';

/** The allocator names request fields ("pools.ipv4[0]"); the user wrote them under "ipam". */
const configField = (field: string) => (field.startsWith('pools') ? `ipam.${field}` : field || 'ipam');

export function toCniError(e: unknown): CniError {
  if (isCniError(e)) return e;
  if (isInputError(e)) return invalid(e.field, e.reason);
  if (isEtcdNoSpace(e)) return new CniError(CniErrorCode.EtcdNoSpace, 'etcd is out of space (NOSPACE alarm)', e.message);
  if (isAllocError(e)) {
    const reason = e.message.replace(`${e.field}: `, '');
    if (e.code === 'PoolExhausted') return new CniError(CniErrorCode.PoolExhausted, 'no free address', e.message);
    if (e.code === 'NoPoolMatches') return new CniError(CniErrorCode.NoPoolMatches, 'no pool can serve this pod', e.message);
    if (e.retryable) return new CniError(CniErrorCode.TryAgainLater, 'try again later', e.message);
    return invalid(configField(e.field), reason);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new CniError(CniErrorCode.TryAgainLater, 'try again later', `the ipam-es daemon could not complete the call: ${msg}`);
}

// The plugin binary's HTTP exchange with the daemon over the unix socket. Request: POST /v1/cni, each CNI_* variable
// that is set as a header (percent-encoded), stdin as the body. Answer: the plugin's stdout as the body, its exit code
// in a header. The C client (src/cni/client/ipam-es.c) spells the same names.
import type { IncomingHttpHeaders } from 'node:http';
import type { CniEnv } from './call.js';
import { CniError, CniErrorCode } from './protocol.js';

export const CNI_PATH_PREFIX = '/v1/cni';
export const EXIT_CODE_HEADER = 'cni-exit-code';
/** stdin larger than this is refused (network configs with a prevResult are a few KiB). */
export const MAX_STDIN_BYTES = 1024 * 1024;

export const ENV_HEADERS = {
  CNI_COMMAND: 'cni-command',
  CNI_CONTAINERID: 'cni-containerid',
  CNI_NETNS: 'cni-netns',
  CNI_IFNAME: 'cni-ifname',
  CNI_ARGS: 'cni-args',
  CNI_PATH: 'cni-path',
} as const satisfies Record<keyof CniEnv, string>;

/** The environment as the client sent it; a header that does not decode names its variable (CNI error 4). */
export function envFromHeaders(headers: IncomingHttpHeaders): CniEnv {
  const env: Partial<Record<keyof CniEnv, string>> = {};
  for (const [name, header] of Object.entries(ENV_HEADERS) as [keyof CniEnv, string][]) {
    const v = headers[header];
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join(',') : v;
    try {
      env[name] = decodeURIComponent(text);
    } catch {
      throw new CniError(CniErrorCode.InvalidEnvironment, `invalid environment variable ${name}`, `${name} is not valid UTF-8`);
    }
  }
  return env;
}

/** The same encoding the C client applies: bytes outside '!'..'~', and '%', as %XX. */
export function encodeHeaderValue(value: string): string {
  let out = '';
  for (const b of Buffer.from(value, 'utf8')) {
    out += b < 0x21 || b > 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

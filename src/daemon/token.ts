// The TCP API's bearer token: from a file, from IPAM_TOKEN, or made once and kept in the data dir (mode 0600).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function loadToken(opts: { tokenFile?: string; generatedPath: string }): { token: string; source: string; warning?: string } {
  if (opts.tokenFile) {
    const token = readFileSync(opts.tokenFile, 'utf8').trim();
    if (token.length < 16) throw new Error(`--token-file ${opts.tokenFile}: the token must be at least 16 characters`);
    // Not refused (a mounted Secret may come with its own mode), but said: anyone who reads it has the API.
    const mode = statSync(opts.tokenFile).mode & 0o777;
    const warning = (mode & 0o077) !== 0 ? `--token-file ${opts.tokenFile} has mode ${mode.toString(8)}: other users can read the token; chmod 600 it` : undefined;
    return { token, source: opts.tokenFile, ...(warning ? { warning } : {}) };
  }
  const env = process.env.IPAM_TOKEN?.trim();
  if (env) {
    if (env.length < 16) throw new Error('IPAM_TOKEN: the token must be at least 16 characters');
    return { token: env, source: 'IPAM_TOKEN' };
  }
  const p = opts.generatedPath;
  if (existsSync(p)) {
    if ((statSync(p).mode & 0o077) !== 0) throw new Error(`${p}: the token file is readable by others; chmod 600 it`);
    return { token: readFileSync(p, 'utf8').trim(), source: p };
  }
  mkdirSync(dirname(p), { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(p, token + '\n', { mode: 0o600 });
  return { token, source: `${p} (generated)` };
}

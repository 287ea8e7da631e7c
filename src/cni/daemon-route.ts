// The CNI route as the daemon mounts it on its unix socket only: POST /v1/cni and any path under /v1/cni/.
import type { RouteHandler } from '../daemon/daemon.js';
import { createCniRoute, type CniDeps } from './route.js';
import { CNI_PATH_PREFIX } from './wire.js';

/** Answers before the daemon's 10 s request deadline, so the plugin gets a CNI error 11, not a bare HTTP 503. */
const CNI_DEADLINE_MS = 9_000;

export function cniSocketRoute(parts: CniDeps): RouteHandler {
  const route = createCniRoute(parts, { deadlineMs: CNI_DEADLINE_MS });
  return async (req, res, url) => {
    if (url.pathname !== CNI_PATH_PREFIX && !url.pathname.startsWith(`${CNI_PATH_PREFIX}/`)) return false;
    await route(req, res);
    return true;
  };
}

// The console's client of the daemon: the token lives in this tab's sessionStorage (never in a URL, never logged)
// and goes in the Authorization header, as for every other client of the API.
const TOKEN_KEY = 'ipam-es-token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (t: string): void => sessionStorage.setItem(TOKEN_KEY, t),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

function headers(): HeadersInit {
  const t = session.token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

export async function getJson<T>(path: string, params: Record<string, string | undefined> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const res = await fetch(`${path}${q.size ? `?${q}` : ''}`, { headers: headers(), cache: 'no-store' });
  const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.code ?? String(res.status), body.error?.message ?? res.statusText);
  return body as T;
}

/**
 * Calls `onChange` whenever pools change, through the daemon's Kubernetes-style watch of SpiderIPPools (the same
 * watch kubectl uses). Reconnects after a second when the stream ends; stop() ends it.
 */
export function watchPools(onChange: () => void): { stop(): void } {
  let stopped = false;
  let ctrl: AbortController | undefined;
  const run = async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const list = await getJson<{ metadata: { resourceVersion: string } }>('/apis/spiderpool.spidernet.io/v2beta1/spiderippools', { limit: '1' });
        const res = await fetch(`/apis/spiderpool.spidernet.io/v2beta1/spiderippools?watch=true&resourceVersion=${encodeURIComponent(list.metadata.resourceVersion)}`, { headers: headers(), signal: ctrl.signal });
        if (!res.ok || !res.body) throw new Error(`watch answered ${res.status}`);
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (value && value.length > 0) onChange();
        }
      } catch {
        // fall through to the retry below (network, 410 Gone, daemon restart)
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      ctrl?.abort();
    },
  };
}

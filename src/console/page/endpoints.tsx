// Endpoints (SpiderEndpoint-like: a pod interface and what it holds), searched by namespace, pod, container or address.
import { useEffect, useState } from 'preact/hooks';
import type { EndpointSearch } from '../wire.js';
import { getJson } from './api.js';

export function EndpointsPage({ liveRevision, historyOf }: { liveRevision: number; historyOf: (q: { ip?: string; pod?: string }) => void }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState<EndpointSearch | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const t = setTimeout(() => {
      getJson<EndpointSearch>('/console/api/endpoints', { q })
        .then((r) => (setFound(r), setError(null)))
        .catch((e: Error) => setError(e.message));
    }, 200);
    return () => clearTimeout(t);
  }, [q, liveRevision]);
  return (
    <section>
      <h2>Endpoints</h2>
      <input type="search" placeholder="namespace, pod, container id or address" value={q} data-testid="endpoint-search" onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      {error ? <p class="error">{error}</p> : null}
      <table class="grid" data-testid="endpoints">
        <thead>
          <tr>
            <th>Namespace</th>
            <th>Pod</th>
            <th>Interface</th>
            <th>Addresses</th>
            <th>Node</th>
            <th>Owner</th>
            <th>Container</th>
          </tr>
        </thead>
        <tbody>
          {(found?.items ?? []).map((e) => (
            <tr key={`${e.namespace}/${e.name}/${e.nic}`}>
              <td>{e.namespace}</td>
              <td>
                <a href="#" onClick={(ev) => (ev.preventDefault(), historyOf({ pod: `${e.namespace}/${e.name}` }))}>
                  {e.name}
                </a>
              </td>
              <td>{e.nic}</td>
              <td class="mono">
                {e.addresses.map((a) => (
                  <div key={a.address}>
                    <a href="#" onClick={(ev) => (ev.preventDefault(), historyOf({ ip: a.address }))}>
                      {a.address}/{a.prefixLength}
                    </a>{' '}
                    <span class="muted">{a.pool}</span>
                  </div>
                ))}
              </td>
              <td>{e.node ?? ''}</td>
              <td>{e.owner ?? ''}</td>
              <td class="mono" title={e.containerID}>
                {e.containerID.slice(0, 12)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {found?.truncated ? <p class="muted">Only the first {found.items.length} are shown: narrow the search.</p> : null}
      {found && found.items.length === 0 ? <p class="empty">No endpoint matches.</p> : null}
    </section>
  );
}

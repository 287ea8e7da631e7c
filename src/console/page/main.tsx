// The ipam-es web console: sign in with the API token, then pools, one pool's address map (live or at any past
// revision), endpoints and history. Everything shown comes from the daemon's console API and its watch.
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Overview } from '../wire.js';
import { ApiError, getJson, session, watchPools } from './api.js';
import { EndpointsPage } from './endpoints.js';
import { HistoryPage, type HistoryQuery } from './history.js';
import { PoolMapPage } from './pool-map.js';
import { PoolsPage } from './pools.js';

type View = { page: 'pools' } | { page: 'pool'; pool: string } | { page: 'endpoints' } | { page: 'history'; query: HistoryQuery };

function parseHash(hash: string): View {
  const [path = '', qs = ''] = hash.replace(/^#\/?/, '').split('?');
  const q = new URLSearchParams(qs);
  const [head, ...rest] = path.split('/');
  if (head === 'pool' && rest.length) return { page: 'pool', pool: decodeURIComponent(rest.join('/')) };
  if (head === 'endpoints') return { page: 'endpoints' };
  if (head === 'history') return { page: 'history', query: { ...(q.get('ip') ? { ip: q.get('ip')! } : {}), ...(q.get('pod') ? { pod: q.get('pod')! } : {}) } };
  return { page: 'pools' };
}

function hashOf(v: View): string {
  if (v.page === 'pool') return `#/pool/${encodeURIComponent(v.pool)}`;
  if (v.page === 'history') return `#/history?${new URLSearchParams(v.query as Record<string, string>)}`;
  return `#/${v.page}`;
}

function Login({ onSignedIn, failed }: { onSignedIn: () => void; failed: string | null }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="login"
      onSubmit={(e) => {
        e.preventDefault();
        session.signIn(token.trim());
        onSignedIn();
      }}
    >
      <h1>ipam-es</h1>
      <label>
        API token
        <input type="password" autocomplete="current-password" value={token} name="token" data-testid="token" onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
      </label>
      <p class="muted">The daemon's bearer token (`.run/token`, `--token-file` or `$IPAM_TOKEN`). It is kept in this tab only.</p>
      {failed ? <p class="error">{failed}</p> : null}
      <button type="submit">Sign in</button>
    </form>
  );
}

function App() {
  const [view, setView] = useState<View>(parseHash(location.hash));
  const [overview, setOverview] = useState<Overview | null>(null);
  const [signedIn, setSignedIn] = useState(Boolean(session.token()));
  const [failed, setFailed] = useState<string | null>(null);

  const go = useCallback((v: View) => {
    history.pushState(null, '', hashOf(v));
    setView(v);
  }, []);
  useEffect(() => {
    const onPop = () => setView(parseHash(location.hash));
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);

  const refresh = useCallback(() => {
    getJson<Overview>('/console/api/overview')
      .then((o) => (setOverview(o), setFailed(null)))
      .catch((e: Error) => {
        if (e instanceof ApiError && e.status === 401) {
          session.signOut();
          setSignedIn(false);
          setFailed('That token was refused.');
        } else setFailed(e.message);
      });
  }, []);
  useEffect(() => {
    if (!signedIn) return;
    refresh();
    let pending: ReturnType<typeof setTimeout> | undefined;
    // Live: every change the watch reports refreshes what is shown, at most every 250 ms.
    const w = watchPools(() => {
      pending ??= setTimeout(() => ((pending = undefined), refresh()), 250);
    });
    return () => (w.stop(), clearTimeout(pending));
  }, [signedIn]);

  if (!signedIn) return <Login failed={failed} onSignedIn={() => setSignedIn(true)} />;
  const rev = overview?.revision ?? 0;
  const historyOf = (q: HistoryQuery) => go({ page: 'history', query: q });
  return (
    <>
      <header>
        <h1>ipam-es</h1>
        <nav>
          <a href="#/pools" class={view.page === 'pools' || view.page === 'pool' ? 'active' : ''} onClick={(e) => (e.preventDefault(), go({ page: 'pools' }))}>
            Pools
          </a>
          <a href="#/endpoints" class={view.page === 'endpoints' ? 'active' : ''} onClick={(e) => (e.preventDefault(), go({ page: 'endpoints' }))}>
            Endpoints
          </a>
          <a href="#/history" class={view.page === 'history' ? 'active' : ''} onClick={(e) => (e.preventDefault(), go({ page: 'history', query: {} }))}>
            History
          </a>
        </nav>
        <span class="muted" data-testid="revision">
          revision {rev}
        </span>
        <button
          type="button"
          onClick={() => {
            session.signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {failed ? <p class="error">{failed}</p> : null}
        {view.page === 'pools' && overview ? <PoolsPage overview={overview} open={(pool) => go({ page: 'pool', pool })} /> : null}
        {view.page === 'pool' ? <PoolMapPage pool={view.pool} liveRevision={rev} historyOf={(ip) => historyOf({ ip })} /> : null}
        {view.page === 'endpoints' ? <EndpointsPage liveRevision={rev} historyOf={historyOf} /> : null}
        {view.page === 'history' ? <HistoryPage query={view.query} search={historyOf} liveRevision={rev} /> : null}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

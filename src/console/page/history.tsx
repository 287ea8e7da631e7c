// One address's or one pod's timeline, from the log: who held it, from when to when, and why it was released.
import { useEffect, useState } from 'preact/hooks';
import type { HistoryAnswer } from '../wire.js';
import { getJson } from './api.js';
import { time } from './format.js';

export interface HistoryQuery {
  readonly ip?: string;
  readonly pod?: string;
}

export function HistoryPage({ query, search, liveRevision }: { query: HistoryQuery; search: (q: HistoryQuery) => void; liveRevision: number }) {
  const [text, setText] = useState(query.ip ?? query.pod ?? '');
  const [answer, setAnswer] = useState<HistoryAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setText(query.ip ?? query.pod ?? ''), [query.ip, query.pod]);
  useEffect(() => {
    if (!query.ip && !query.pod) return setAnswer(null);
    getJson<HistoryAnswer>('/console/api/history', { ip: query.ip, pod: query.pod })
      .then((a) => (setAnswer(a), setError(null)))
      .catch((e: Error) => setError(e.message));
  }, [query.ip, query.pod, liveRevision]);
  const submit = (e: Event) => {
    e.preventDefault();
    const v = text.trim();
    search(v.includes('/') && !v.includes(':') && !/^\d+\.\d+\.\d+\.\d+$/.test(v) ? { pod: v } : { ip: v });
  };
  const hs = answer?.holdings ?? [];
  const lo = hs.length ? Math.min(...hs.map((h) => h.from.revision)) : 0;
  const hi = Math.max(answer?.revision ?? 0, ...hs.map((h) => h.until?.revision ?? 0), lo + 1);
  const pct = (r: number) => ((r - lo) / (hi - lo)) * 100;
  return (
    <section>
      <h2>History</h2>
      <form onSubmit={submit} class="inline">
        <input type="search" placeholder="an address (10.6.0.9) or a pod (namespace/name)" value={text} data-testid="history-query" onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit">Show</button>
      </form>
      {error ? <p class="error">{error}</p> : null}
      {answer ? (
        <>
          <p class="muted">
            {hs.length} holding{hs.length === 1 ? '' : 's'} of {query.ip ?? query.pod}, revisions {lo}–{hi}
          </p>
          <div class="timeline" data-testid="timeline">
            {hs.map((h) => (
              <div class="lane" key={h.allocationId} data-testid="holding">
                <span class="who">
                  {query.pod ? h.address : h.pod} <span class="muted">{h.nic}</span>
                </span>
                <span class="track">
                  <span class={`span ${h.until ? 'ended' : 'held'}`} style={{ left: `${pct(h.from.revision)}%`, width: `${Math.max(0.5, pct(h.until?.revision ?? hi) - pct(h.from.revision))}%` }} />
                </span>
              </div>
            ))}
          </div>
          <table class="grid" data-testid="holdings">
            <thead>
              <tr>
                <th>Address</th>
                <th>Pod</th>
                <th>Interface</th>
                <th>Pool</th>
                <th>From</th>
                <th>Until</th>
                <th>Why released</th>
              </tr>
            </thead>
            <tbody>
              {hs.map((h) => (
                <tr key={h.allocationId}>
                  <td class="mono">{h.address}</td>
                  <td>{h.pod}</td>
                  <td>{h.nic}</td>
                  <td>{h.pool}</td>
                  <td>
                    {time(h.from.at)} <span class="muted">r{h.from.revision}</span>
                  </td>
                  <td>{h.until ? <>{time(h.until.at)} <span class="muted">r{h.until.revision}</span></> : <b>held now</b>}</td>
                  <td data-field="reason">{h.until?.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}

// One pool's address map: a cell per address (256 a row, a /16 on one page), coloured by state; hovering names the
// address and its holder, clicking pins it. The time slider replays the pool to any earlier revision.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { CellState, type CellName, type Holder, type PoolMap } from '../wire.js';
import { formatAddress, parseAddress } from '../../net/address.js';
import { getJson } from './api.js';


/** Columns and cell size for a page of n cells: a /24 gets big cells, a /16 3 px ones; the map stays 768 px wide. */
function layout(n: number): { columns: number; cell: number } {
  const columns = n <= 1024 ? 32 : n <= 4096 ? 64 : n <= 16384 ? 128 : 256;
  return { columns, cell: 768 / columns };
}
export const CELL_COLOUR: Readonly<Record<CellName, string>> = {
  Outside: '#ffffff',
  Free: '#d1fae5',
  Allocated: '#2563eb',
  Reserved: '#f97316',
  Excluded: '#6b7280',
  Infrastructure: '#7c3aed',
};
const NAMES = Object.keys(CellState) as CellName[];

function decodeCells(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The address of cell i, from the page's first address: the engine's own parser and RFC 5952 formatter. */
function addressAt(first: string, i: number, family: 4 | 6): string {
  return formatAddress(family, parseAddress(first, 'first', family).value + BigInt(i));
}

export function PoolMapPage({ pool, liveRevision, historyOf }: { pool: string; liveRevision: number; historyOf: (ip: string) => void }) {
  const [page, setPage] = useState('0');
  const [at, setAt] = useState<number | null>(null); // null: live
  const [map, setMap] = useState<PoolMap | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hover, setHover] = useState<{ cell: number; x: number; y: number } | null>(null);
  const [pinned, setPinned] = useState<number | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    let cancelled = false;
    const t = setTimeout(() => {
      getJson<PoolMap>(`/console/api/pools/${encodeURIComponent(pool)}/map`, { page, revision: at === null ? undefined : String(at) })
        .then((m) => !cancelled && (setMap(m), setError(null)))
        .catch((e: Error) => !cancelled && setError(e.message));
    }, at === null ? 0 : 150); // scrubbing: ask once the slider rests
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }, [pool, page, at, at === null ? liveRevision : 0]);

  // The newest revision known: the overview's, or the live map's if that is newer (the overview refreshes on a timer).
  const [newest, setNewest] = useState(liveRevision);
  useEffect(() => setNewest((n) => Math.max(n, liveRevision, at === null && map ? map.revision : 0)), [liveRevision, map, at]);
  const cells = useMemo(() => (map ? decodeCells(map.cells) : new Uint8Array()), [map?.cells]);
  const holders = useMemo(() => new Map<number, Holder>((map?.holders ?? []).map((h) => [h.cell, h])), [map?.holders]);

  useEffect(() => {
    const c = canvas.current;
    if (!c || !map) return;
    const { columns, cell } = layout(map.cellCount);
    const rows = Math.ceil(map.cellCount / columns);
    c.width = columns * cell;
    c.height = rows * cell;
    // Cells bigger than a few pixels get a gap, so single addresses stay visible.
    const gap = cell >= 12 ? 1 : 0;
    const g = c.getContext('2d')!;
    g.fillStyle = CELL_COLOUR.Outside;
    g.fillRect(0, 0, c.width, c.height);
    for (let i = 0; i < cells.length; i++) {
      g.fillStyle = CELL_COLOUR[NAMES[cells[i]!]!];
      g.fillRect((i % columns) * cell, Math.floor(i / columns) * cell, cell - gap, cell - gap);
    }
    if (pinned !== null && pinned < cells.length) {
      g.strokeStyle = '#111827';
      g.strokeRect((pinned % columns) * cell - 1, Math.floor(pinned / columns) * cell - 1, cell + 2, cell + 2);
    }
  }, [cells, pinned]);

  const cellAt = (e: MouseEvent): number | null => {
    const c = canvas.current!;
    const { columns, cell } = layout(cells.length);
    const r = c.getBoundingClientRect();
    const col = Math.floor(((e.clientX - r.left) / r.width) * columns);
    const row = Math.floor(((e.clientY - r.top) / r.height) * (c.height / cell));
    const i = row * columns + col;
    return col >= 0 && col < columns && i >= 0 && i < cells.length ? i : null;
  };
  const describe = (i: number) => {
    if (!map) return null;
    const h = holders.get(i);
    return { address: addressAt(map.first, i, map.ipVersion), state: NAMES[cells[i]!]!, holder: h };
  };
  const shown = pinned !== null ? describe(pinned) : hover ? describe(hover.cell) : null;

  if (error) return <p class="error">{error}</p>;
  if (!map) return <p>Loading {pool}…</p>;
  return (
    <section>
      <h2>
        Pool <span class="mono">{pool}</span> <span class="muted">{map.subnet}</span>
      </h2>
      <div class="timebar">
        <label>
          {at === null ? 'Live' : `As of revision ${map.revision}`}
          <input
            type="range"
            min={1}
            max={newest}
            value={at ?? newest}
            data-testid="time-slider"
            onInput={(e) => setAt(Number((e.target as HTMLInputElement).value))}
          />
        </label>
        <button type="button" disabled={at === null} onClick={() => setAt(null)}>
          Back to live
        </button>
        <span class="muted" data-testid="map-revision">revision {map.revision}</span>
      </div>
      {map.pages !== '1' ? (
        <div class="pager">
          Page{' '}
          <input type="number" min={0} max={Number(map.pages) - 1} value={page} onChange={(e) => setPage((e.target as HTMLInputElement).value || '0')} /> of {map.pages}{' '}
          <span class="muted">(65,536 addresses a page, from {map.first})</span>
        </div>
      ) : null}
      <ul class="legend">
        {NAMES.filter((n) => n !== 'Outside' || map.counts.Outside > 0).map((n) => (
          <li key={n}>
            <span class="swatch" style={{ background: CELL_COLOUR[n] }} /> {n.toLowerCase()} <span data-count={n}>{map.counts[n]}</span>
          </li>
        ))}
      </ul>
      <div class="map">
        <canvas
          ref={canvas}
          data-testid="address-map"
          data-columns={layout(map.cellCount).columns}
          onMouseMove={(e) => {
            const i = cellAt(e);
            setHover(i === null ? null : { cell: i, x: e.offsetX, y: e.offsetY });
          }}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => setPinned(cellAt(e))}
        />
        {shown ? (
          <div class="cell-info" data-testid="cell-info">
            <div class="mono">{shown.address}</div>
            <div>{shown.state.toLowerCase()}</div>
            {shown.holder ? (
              <div>
                <div data-testid="holder-pod">{shown.holder.pod}</div>
                <div class="muted">
                  {shown.holder.nic} · {shown.holder.containerID.slice(0, 12)}
                  {shown.holder.node ? ` · ${shown.holder.node}` : ''} · since revision {shown.holder.since}
                </div>
              </div>
            ) : null}
            <a href="#" onClick={(e) => (e.preventDefault(), historyOf(shown.address))}>
              history of this address
            </a>
          </div>
        ) : (
          <p class="muted">Hover an address to see it; click to pin it.</p>
        )}
      </div>
    </section>
  );
}

// Pools and subnets with their utilization per family; nearly exhausted and exhausted ones stand out.
import { useEffect, useRef } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import type { Overview, PoolSummary } from '../wire.js';
import { bigCount, percent, utilizationLabel } from './format.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

const BAR_COLOUR = { ok: '#3b82f6', high: '#f59e0b', exhausted: '#dc2626' } as const;

function UtilizationChart({ pools, family }: { pools: readonly PoolSummary[]; family: 4 | 6 }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  const mine = pools.filter((p) => p.ipVersion === family);
  useEffect(() => {
    if (!canvas.current) return;
    const data = {
      labels: mine.map((p) => p.name),
      datasets: [{ label: 'allocated', data: mine.map((p) => Math.round(p.utilization * 1000) / 10), backgroundColor: mine.map((p) => BAR_COLOUR[p.state]) }],
    };
    if (chart.current) {
      chart.current.data = data;
      chart.current.update('none');
    } else {
      chart.current = new Chart(canvas.current, {
        type: 'bar',
        data,
        options: {
          indexAxis: 'y',
          animation: false,
          maintainAspectRatio: false,
          scales: { x: { min: 0, max: 100, title: { display: true, text: '% allocated' } } },
          plugins: { tooltip: { callbacks: { label: (c) => `${c.parsed.x}% allocated` } } },
        },
      });
    }
  }, [mine.map((p) => `${p.name}:${p.utilization}:${p.state}`).join(',')]);
  useEffect(() => () => chart.current?.destroy(), []);
  if (mine.length === 0) return null;
  return (
    <figure class="chart" style={{ height: `${Math.max(80, 28 * mine.length + 50)}px` }}>
      <figcaption>IPv{family} pools</figcaption>
      <canvas ref={canvas} data-testid={`chart-ipv${family}`} />
    </figure>
  );
}

function Bar({ value, state }: { value: number; state: PoolSummary['state'] }) {
  return (
    <span class={`bar ${state}`} title={percent(value)}>
      <span style={{ width: `${Math.min(100, value * 100)}%` }} />
    </span>
  );
}

export function PoolsPage({ overview, open }: { overview: Overview; open: (pool: string) => void }) {
  return (
    <section>
      <h2>Pools</h2>
      <div class="charts">
        <UtilizationChart pools={overview.pools} family={4} />
        <UtilizationChart pools={overview.pools} family={6} />
      </div>
      <table class="grid" data-testid="pools">
        <thead>
          <tr>
            <th>Name</th>
            <th>Family</th>
            <th>Subnet</th>
            <th class="num">Allocated</th>
            <th class="num">Total</th>
            <th class="num">Reserved</th>
            <th class="num">Allocatable</th>
            <th>Utilization</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {overview.pools.map((p) => (
            <tr key={p.name} class={`state-${p.state}`} data-pool={p.name}>
              <td>
                <a href={`#/pool/${encodeURIComponent(p.name)}`} onClick={(e) => (e.preventDefault(), open(p.name))}>
                  {p.name}
                </a>
                {p.isDefault ? <span class="tag">default</span> : null}
                {p.disabled ? <span class="tag">disabled</span> : null}
              </td>
              <td>IPv{p.ipVersion}</td>
              <td class="mono">{p.subnet}</td>
              <td class="num" data-field="allocated">{p.allocated.toLocaleString('en-US')}</td>
              <td class="num" data-field="total">{bigCount(p.total)}</td>
              <td class="num">{p.reserved.toLocaleString('en-US')}</td>
              <td class="num">{bigCount(p.allocatable)}</td>
              <td>
                <Bar value={p.utilization} state={p.state} /> <span data-field="utilization">{percent(p.utilization)}</span>
              </td>
              <td class="warn">{utilizationLabel[p.state]}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {overview.pools.length === 0 ? <p class="empty">No pools yet: `ipam apply -f pools.yaml` or `kubectl apply`.</p> : null}
      <h2>Subnets</h2>
      <table class="grid" data-testid="subnets">
        <thead>
          <tr>
            <th>Name</th>
            <th>Family</th>
            <th>Subnet</th>
            <th>Pools</th>
            <th class="num">Allocated</th>
            <th class="num">Total</th>
            <th>Utilization</th>
          </tr>
        </thead>
        <tbody>
          {overview.subnets.map((s) => (
            <tr key={s.name} class={`state-${s.state}`}>
              <td>{s.name}</td>
              <td>IPv{s.ipVersion}</td>
              <td class="mono">{s.subnet}</td>
              <td>{s.pools.join(', ')}</td>
              <td class="num">{s.allocated.toLocaleString('en-US')}</td>
              <td class="num">{bigCount(s.total)}</td>
              <td>
                <Bar value={s.utilization} state={s.state} /> {percent(s.utilization)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

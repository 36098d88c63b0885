import { useEffect, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { api } from '../api.js';
import type { PageProps } from '../routes.js';
import { may } from '../session.js';
import { Chart } from '../ui/chart.js';
import { ErrorBanner } from '../ui/error-banner.js';
import { money as dollars } from '../ui/format.js';
import { Progress } from '../ui/progress.js';
import { align, fetchSeries } from './series.js';
import './data.css';

type Counts = { readonly total: number; readonly by_status: Readonly<Record<string, number>> } | null;

/** What `GET /console/api/overview` answers; a part the key may not read is null. */
interface Overview {
  readonly machines: {
    readonly total: number;
    readonly by_state: Readonly<Record<string, number>>;
    readonly gpus_by_state: Readonly<Record<string, number>>;
  } | null;
  readonly instances: Counts;
  readonly endpoints: Counts;
  readonly deployments: Counts;
  readonly billing: { readonly spend_per_hour: number; readonly balance: number } | null;
}

interface Charts {
  readonly spend: uPlot.AlignedData | null;
  readonly gpu: uPlot.AlignedData | null;
  /** Per endpoint, in the same order as `names`. */
  readonly rps: uPlot.AlignedData | null;
  readonly queue: uPlot.AlignedData | null;
  readonly names: readonly string[];
}

/** How often the page reads the overview and its charts again. */
const REFRESH_MS = 5_000;
/** The charts' span. */
const SPAN_S = 3600;
const MACHINE_STATES = ['free', 'rented', 'offline', 'maintenance'] as const;

/** Cents and below to four places; a negative balance reads `-$1.50`. */
const money = (v: number): string => dollars(v, Math.abs(v) < 1 ? 4 : 2);

function CountCard({ title, counts, order }: { title: string; counts: Readonly<Record<string, number>>; order?: readonly string[] }) {
  const keys = order ?? Object.keys(counts).sort();
  const total = Object.values(counts).reduce((s, n) => s + n, 0);
  return (
    <li class="card">
      <h2>{title}</h2>
      <div class="big">{total}</div>
      <dl>{keys.map((k) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`}>{counts[k] ?? 0}</dd>])}</dl>
    </li>
  );
}

async function loadCharts(p: PageProps, names: Map<number, string>): Promise<Charts> {
  const since = Date.now() / 1000 - SPAN_S;
  const spend = may(p.session, 'billing.read') ? align([(await fetchSeries('spend', null, since)).points]) : null;
  const gpu = p.session.account.is_admin && may(p.session, 'machine.read') ? align([(await fetchSeries('gpu_util', 0, since)).points]) : null;
  const ids = [...names.keys()];
  const per = async (name: string): Promise<uPlot.AlignedData | null> =>
    ids.length === 0 ? null : align(await Promise.all(ids.map(async (id) => (await fetchSeries(name, id, since)).points)));
  return { spend, gpu, rps: await per('rps'), queue: await per('queue'), names: ids.map((id) => names.get(id) ?? `endpoint ${id}`) };
}

/** Machines and GPUs by state, instances, endpoints and deployments by status, money, and charts over the last hour. */
export function OverviewPage(p: PageProps) {
  const [o, setO] = useState<Overview | null>(null);
  const [charts, setCharts] = useState<Charts | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    const load = async (): Promise<void> => {
      try {
        const next = await api<Overview>('GET', '/console/api/overview');
        const names = new Map<number, string>();
        if (may(p.session, 'serverless.read')) {
          const d = await api<{ deployments: { endpoint_id: number; name: string }[] }>('GET', '/console/api/deployments');
          for (const x of d.deployments) names.set(x.endpoint_id, x.name);
        }
        const c = await loadCharts(p, names);
        if (!live) return;
        setO(next);
        setCharts(c);
        setError(null);
      } catch (err) {
        if (live) setError(err);
      }
    };
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Overview</h1>
      <ErrorBanner error={error} />
      {o === null ? (
        error === null && <Progress label="Loading the overview…" />
      ) : (
        <ul class="stat-cards" aria-label="Counts">
          {o.machines && <CountCard title="Machines" counts={o.machines.by_state} order={MACHINE_STATES} />}
          {o.machines && <CountCard title="GPUs" counts={o.machines.gpus_by_state} order={MACHINE_STATES} />}
          {o.instances && <CountCard title="Instances" counts={o.instances.by_status} />}
          {o.deployments && <CountCard title="Deployments" counts={o.deployments.by_status} />}
          {o.endpoints && <CountCard title="Endpoints" counts={o.endpoints.by_status} />}
          {o.billing && (
            <li class="card">
              <h2>Spend rate now</h2>
              <div class="big">{money(o.billing.spend_per_hour)}/h</div>
            </li>
          )}
          {o.billing && (
            <li class="card">
              <h2>Balance</h2>
              <div class="big">{money(o.billing.balance)}</div>
            </li>
          )}
        </ul>
      )}
      {charts !== null && (
        <div class="charts">
          {charts.spend && <Chart title="Spend ($/h)" data={charts.spend} series={[{ label: 'spend $/h', stroke: '#0550ae' }]} />}
          {charts.gpu && <Chart title="GPU utilisation, fleet (%)" data={charts.gpu} series={[{ label: 'fleet %', stroke: '#116329' }]} />}
          {charts.rps && <Chart key={`rps-${charts.names.join()}`} title="Requests per second by endpoint" data={charts.rps} series={lines(charts.names)} />}
          {charts.queue && (
            <Chart key={`queue-${charts.names.join()}`} title="Queue depth by endpoint (held requests)" data={charts.queue} series={lines(charts.names)} />
          )}
        </div>
      )}
    </section>
  );
}

const COLOURS = ['#0550ae', '#a40e26', '#116329', '#7d4e00', '#8250df', '#1b7c83'];
const lines = (names: readonly string[]): uPlot.Series[] => names.map((n, i) => ({ label: n, stroke: COLOURS[i % COLOURS.length] as string }));

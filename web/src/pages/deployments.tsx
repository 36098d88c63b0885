import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from '../routes.js';
import { ErrorBanner } from '../ui/error-banner.js';
import { Progress } from '../ui/progress.js';
import { Table, type Column } from '../ui/table.js';
import { DeploymentDetail } from './deployment-detail.js';
import { API_NAMES, useDeployments, workersText, type Deployment } from './deployment-data.js';
import './data.css';

/** `#/deployments/<id>`: the id of the deployment shown in detail, or null for the list. */
function useDetailId(): number | null {
  const read = (): number | null => {
    const m = /^#\/deployments\/(\d+)/.exec(location.hash);
    return m === null ? null : Number(m[1]);
  };
  const [id, setId] = useState(read());
  useEffect(() => {
    const on = (): void => setId(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return id;
}

const COLUMNS: readonly Column<Deployment>[] = [
  { key: 'name', label: 'Name', value: (d) => d.name, render: (d) => <a href={`#/deployments/${d.id}`}>{d.name}</a> },
  { key: 'state', label: 'State', value: (d) => d.state, render: (d) => <span class={`status-${d.state}`}>{d.state}</span> },
  { key: 'workers', label: 'Workers', value: (d) => workersText(d.workers_by_state) },
  { key: 'queue', label: 'Queue', value: (d) => d.queue + d.held_elsewhere },
  { key: 'in_flight', label: 'In flight', value: (d) => d.in_flight },
  { key: 'rate', label: 'Req/s', value: (d) => Math.round(d.request_rate * 100) / 100 },
  { key: 'api', label: 'Made by', value: (d) => API_NAMES[d.api] ?? d.api },
];

/** Every deployment of the account, whichever API made it, live from the push channel; a row opens its detail. */
export function DeploymentsPage(p: PageProps) {
  const id = useDetailId();
  const list = useDeployments();
  // Keyed by id: another deployment's page starts afresh (no dialog, error or action of the last one).
  if (id !== null) return <DeploymentDetail key={id} session={p.session} id={id} />;
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Deployments</h1>
      <ErrorBanner error={list.error} />
      {!list.loaded ? (
        <Progress label="Loading deployments…" />
      ) : (
        <Table
          caption="Deployments"
          columns={COLUMNS}
          rows={list.data ?? []}
          rowKey={(d) => d.id}
          initialSort={{ key: 'name', dir: 'asc' }}
          empty="No deployments yet: create one with any of the APIs (Vast, AI Core, Elasticsearch)."
        />
      )}
    </section>
  );
}

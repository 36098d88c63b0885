import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { may, type Session } from '../session.js';
import { ConfirmDialog } from '../ui/confirm-dialog.js';
import { ErrorBanner } from '../ui/error-banner.js';
import { Progress } from '../ui/progress.js';
import { Table, type Column } from '../ui/table.js';
import { API_NAMES, useDeployment, workersText, type Decision, type Deployment } from './deployment-data.js';
import { StopDialog, type StopOptions } from './stop-dialog.js';

type Worker = Deployment['workers'][number];

const WORKER_COLUMNS: readonly Column<Worker>[] = [
  { key: 'id', label: 'Instance', value: (w) => w.id },
  { key: 'phase', label: 'State', value: (w) => w.phase },
  { key: 'machine', label: 'Machine', value: (w) => w.machine_id },
  { key: 'error', label: 'Error', value: (w) => w.error },
];

const time = (s: number): string => new Date(s * 1000).toLocaleTimeString();
const did = (d: Decision): string =>
  [d.started && `started ${d.started}`, d.created && `created ${d.created}`, d.stopped && `stopped ${d.stopped}`, d.destroyed && `destroyed ${d.destroyed}`]
    .filter((x) => typeof x === 'string')
    .join(', ') || 'nothing';

const DECISION_COLUMNS: readonly Column<Decision>[] = [
  { key: 'at', label: 'When', value: (d) => d.at, render: (d) => time(d.at) },
  { key: 'targets', label: 'Target (active / all)', value: (d) => `${d.active_target} / ${d.total_target}` },
  { key: 'did', label: 'Did', value: did },
  { key: 'reason', label: 'Reason', value: (d) => d.reason },
  { key: 'refused', label: 'Refused', value: (d) => d.refused },
];

/** What the last stop did with held requests, once it is done (or while it drains). */
function StopOutcome({ d }: { d: Deployment }) {
  if (d.state === 'stopping') return <Progress label={`Stopping: ${d.stop_phase ?? 'under way'}; ${d.stop.answered} request(s) answered so far`} />;
  if (d.state !== 'stopped' && d.state !== 'failed') return null;
  const failed = d.stop.failed;
  return (
    <p role="status" data-testid="stop-outcome">
      The stop answered <strong data-testid="stop-answered">{d.stop.answered}</strong> request(s) and failed <strong data-testid="stop-failed">{failed}</strong>
      {d.stop.rejected > 0 ? ` (${d.stop.rejected} refused from a queue)` : ''}
      {d.stop.drain_timed_out ? '; the drain timed out' : ''}.
    </p>
  );
}

/** One deployment: its numbers, workers, the autoscaler's last decisions, and stop, start and delete when the key may. */
export function DeploymentDetail({ session, id }: { session: Session; id: number }) {
  const [bump, setBump] = useState(0);
  const live = useDeployment(id, bump);
  const [dialog, setDialog] = useState<'stop' | 'delete' | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const d = live.data;
  const act = async (what: string, method: string, path: string, body?: unknown): Promise<boolean> => {
    setBusy(what);
    setError(null);
    try {
      await api(method, path, body === undefined ? {} : { body });
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(null);
      setDialog(null);
      setBump((n) => n + 1);
    }
  };
  const stop = (o: StopOptions): void => void act('Stopping…', 'POST', `/console/api/deployments/${id}/stop`, o);
  const start = (): void => void act('Starting…', 'POST', `/console/api/deployments/${id}/start`, {});
  const remove = async (): Promise<void> => {
    if (await act('Deleting…', 'DELETE', `/console/api/deployments/${id}`)) navigate('deployments');
  };
  const write = may(session, 'serverless.write');
  return (
    <section aria-labelledby="page-title">
      <p>
        <a href="#/deployments">← All deployments</a>
      </p>
      <h1 id="page-title">
        Deployment <bdi>{d?.name ?? id}</bdi>
      </h1>
      <ErrorBanner error={error ?? live.error} onDismiss={error !== null ? () => setError(null) : undefined} />
      {d === null ? (
        !live.loaded ? (
          <Progress label="Loading the deployment…" />
        ) : (
          live.error === null && (
            <p role="status" data-testid="deployment-gone">
              This deployment was deleted.
            </p>
          )
        )
      ) : (
        <>
          <dl class="facts panel">
            <dt>State</dt>
            <dd class={`status-${d.state}`}>{d.state}</dd>
            <dt>Made by</dt>
            <dd>{API_NAMES[d.api] ?? d.api}</dd>
            <dt>Endpoint</dt>
            <dd>
              {d.endpoint_name} (id {d.endpoint_id})
            </dd>
            <dt>Workers</dt>
            <dd data-testid="workers">{workersText(d.workers_by_state)}</dd>
            <dt>Queue</dt>
            <dd data-testid="queue">{d.queue + d.held_elsewhere}</dd>
            <dt>In flight</dt>
            <dd data-testid="in-flight">{d.in_flight}</dd>
            <dt>Requests/s</dt>
            <dd>{d.request_rate.toFixed(2)}</dd>
            <dt>Message</dt>
            <dd>{d.status_msg ?? '—'}</dd>
          </dl>
          {write && (
            <div class="actions toolbar">
              <button
                type="button"
                onClick={() => setDialog('stop')}
                disabled={busy !== null || !['pending', 'running', 'unknown', 'stopping'].includes(d.state)}
              >
                Stop…
              </button>
              <button type="button" onClick={start} disabled={busy !== null || !['stopped', 'failed'].includes(d.state)}>
                Start
              </button>
              <button type="button" class="danger" onClick={() => setDialog('delete')} disabled={busy !== null}>
                Delete…
              </button>
              {busy !== null && <Progress label={busy} />}
            </div>
          )}
          <StopOutcome d={d} />
          <h2>Workers</h2>
          <Table caption="Workers" columns={WORKER_COLUMNS} rows={d.workers} rowKey={(w) => w.id} filter={false} empty="No workers." />
          <h2>Autoscaler decisions</h2>
          <Table
            caption="Autoscaler decisions"
            columns={DECISION_COLUMNS}
            rows={d.decisions}
            rowKey={(x) => `${x.at}-${x.active_target}-${x.total_target}-${x.refused}-${x.reason}`}
            filter={false}
            empty="No decisions yet."
          />
          {dialog === 'stop' && <StopDialog name={d.name} busy={busy !== null} onStop={stop} onCancel={() => setDialog(null)} />}
          {dialog === 'delete' && (
            <ConfirmDialog
              title="Delete deployment"
              thing={d.name}
              detail="A running deployment must be stopped first."
              confirmLabel="Delete"
              busy={busy !== null}
              onConfirm={() => void remove()}
              onCancel={() => setDialog(null)}
            />
          )}
        </>
      )}
    </section>
  );
}

import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { LiveRead, readRecord } from '../live-read.js';
import { push, type PushEvent, type PushState } from '../push.js';
import type { PageProps } from '../routes.js';
import { may } from '../session.js';
import { ConfirmDialog } from '../ui/confirm-dialog.js';
import { ErrorBanner } from '../ui/error-banner.js';
import { Clipped } from '../ui/clipped.js';
import { Progress } from '../ui/progress.js';
import { Table, type Column } from '../ui/table.js';
import { RowActions, type InstanceAction, type InstanceRights } from './instances/actions.js';
import { LogViewer } from './instances/log-viewer.js';
import { RentPanel } from './instances/rent-panel.js';
import { nameOf, statusOf, type InstanceRow } from './instances/types.js';

/** The Vast call each action makes (the routes the official clients use). */
function call(id: number, a: Exclude<InstanceAction, 'logs'>): Promise<unknown> {
  if (typeof a === 'object') return api('PUT', `/api/v0/instances/${id}/`, { body: { label: a.label } });
  switch (a) {
    case 'start':
      return api('PUT', `/api/v0/instances/${id}/`, { body: { state: 'running' } });
    case 'stop':
      return api('PUT', `/api/v0/instances/${id}/`, { body: { state: 'stopped' } });
    case 'reboot':
    case 'recycle':
      return api('PUT', `/api/v0/instances/${a}/${id}/`);
    case 'destroy':
      return api('DELETE', `/api/v0/instances/${id}/`);
  }
}

/** The rows with a pushed change applied (its row whole; none: the instance is gone). */
function withPushed(rows: ReadonlyMap<number, InstanceRow>, e: PushEvent): ReadonlyMap<number, InstanceRow> {
  if (e.id === null) return rows;
  const next = new Map(rows);
  if (e.row === null || e.row === undefined) next.delete(e.id);
  else next.set(e.id, e.row as InstanceRow);
  return next;
}

const VERB: Readonly<Record<string, string>> = { start: 'Starting', stop: 'Stopping', reboot: 'Rebooting', recycle: 'Recycling', destroy: 'Destroying' };
const LIVE: Readonly<Record<PushState, string>> = {
  live: 'Live updates on',
  connecting: 'Connecting live updates…',
  offline: 'Live updates offline, retrying',
};

/**
 * The key's instances with their status as the push channel reports it (no polling), filters, sort,
 * the actions the key may take, a log viewer that follows new lines, and renting from an offers search.
 */
export function InstancesPage({ session }: PageProps) {
  const [rows, setRows] = useState<ReadonlyMap<number, InstanceRow>>(new Map());
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<ReadonlyMap<number, string>>(new Map());
  const [confirm, setConfirm] = useState<InstanceRow | null>(null);
  const [logs, setLogs] = useState<InstanceRow | null>(null);
  const [status, setStatus] = useState('');
  const [text, setText] = useState('');
  const [live, setLive] = useState<PushState>(push.state);
  const rights: InstanceRights = { read: may(session, 'instance.read'), change: may(session, 'instance.change'), manage: may(session, 'instance.manage') };
  const canRent = may(session, 'instance.create') && may(session, 'offer.search');

  // Pushes heard while the list is read are applied again on its answer; an older read's answer is dropped.
  const reads = useMemo(() => new LiveRead(), []);
  // The same for the reads of one row after an action (readRecord).
  const rowReads = useMemo(() => new Set<LiveRead>(), []);
  const reload = useCallback(async () => {
    const ticket = reads.begin();
    try {
      const r = await api<{ instances: InstanceRow[] }>('GET', '/api/v0/instances/');
      const answer = reads.answered(ticket, new Map(r.instances.map((i) => [i.id, i])), withPushed);
      if (answer === null) return;
      setRows(answer.data);
      setLoaded(true);
    } catch (err) {
      if (reads.failed(ticket)) setError(err);
    }
  }, [reads]);

  useEffect(() => {
    void reload();
    const apply = (e: PushEvent): void => {
      if (e.id === null) return void reload();
      reads.heard(e);
      for (const r of rowReads) r.heard(e);
      setRows((old) => withPushed(old, e));
    };
    const stops = [push.subscribe('instance', apply), push.onHello(() => void reload()), push.onState(setLive)];
    return () => stops.forEach((s) => s());
  }, [reload, reads, rowReads]);

  const setBusyFor = (id: number, label: string | null): void =>
    setBusy((old) => {
      const next = new Map(old);
      if (label === null) next.delete(id);
      else next.set(id, label);
      return next;
    });

  const act = async (row: InstanceRow, a: Exclude<InstanceAction, 'logs'>): Promise<void> => {
    setError(null);
    setBusyFor(row.id, typeof a === 'object' ? `Labelling ${nameOf(row)}…` : `${VERB[a] ?? a} ${nameOf(row)}…`);
    try {
      await call(row.id, a);
      // The push brings status changes; a label is not a status, so the row is read once more.
      if (a !== 'destroy') {
        const read = async () => (await api<{ instances: InstanceRow }>('GET', `/api/v0/instances/${row.id}/`)).instances;
        const fresh = await readRecord(rowReads, row.id, read);
        if (fresh !== null) setRows((old) => new Map(old).set(row.id, fresh));
      }
    } catch (err) {
      setError(err instanceof ApiError ? new ApiError(`${nameOf(row)}: ${err.message}`, err.status, err.code) : err);
    } finally {
      setBusyFor(row.id, null);
      if (a === 'destroy') setConfirm(null);
    }
  };

  const all = useMemo(() => [...rows.values()], [rows]);
  const statuses = useMemo(() => [...new Set(all.map(statusOf))].sort(), [all]);
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return all.filter(
      (r) =>
        (status === '' || statusOf(r) === status) &&
        (needle === '' || [String(r.id), r.label ?? '', r.image_uuid ?? ''].some((f) => f.toLowerCase().includes(needle))),
    );
  }, [all, status, text]);

  const columns: Column<InstanceRow>[] = [
    { key: 'id', label: 'ID', value: (r) => r.id },
    { key: 'label', label: 'Label', value: (r) => r.label, render: (r) => <Clipped text={r.label} /> },
    { key: 'image', label: 'Image', value: (r) => r.image_uuid, render: (r) => <Clipped text={r.image_uuid} /> },
    {
      key: 'status',
      label: 'Status',
      value: statusOf,
      render: (r) => (
        <span>
          <span class={`status-${statusOf(r)}`} data-status={statusOf(r)}>
            {statusOf(r)}
          </span>
          {r.status_msg !== null && r.status_msg !== '' && <span class="muted"> {r.status_msg}</span>}
        </span>
      ),
    },
    { key: 'gpus', label: 'GPUs', value: (r) => `${r.num_gpus}× ${r.gpu_name ?? ''}` },
    { key: 'price', label: '$/hour', value: (r) => r.dph_total, render: (r) => `$${r.dph_total.toFixed(4)}` },
    {
      key: 'actions',
      label: 'Actions',
      value: () => null,
      render: (r) => {
        const b = busy.get(r.id);
        return (
          <div>
            <RowActions
              row={r}
              rights={rights}
              busy={b !== undefined}
              act={(a) => (a === 'logs' ? setLogs(r) : a === 'destroy' ? setConfirm(r) : void act(r, a))}
            />
            {b !== undefined && <Progress label={b} />}
          </div>
        );
      },
    },
  ];

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Instances</h1>
      <p class="muted" role="status">
        {LIVE[live]}
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div class="toolbar" role="search" aria-label="Filter instances">
        <div>
          <label for="instance-status">Status</label>
          <select id="instance-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {statuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="instance-text">Label, image or id</label>
          <input id="instance-text" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </div>
      </div>
      {!loaded && error === null ? (
        <Progress label="Loading instances…" />
      ) : (
        <Table
          caption="Instances"
          columns={columns}
          rows={shown}
          rowKey={(r) => r.id}
          filter={false}
          initialSort={{ key: 'id', dir: 'desc' }}
          empty="No instances yet."
        />
      )}
      {logs !== null && <LogViewer key={logs.id} id={logs.id} name={nameOf(logs)} onClose={() => setLogs(null)} />}
      {canRent && (
        <RentPanel
          onRented={(id) =>
            void api<{ instances: InstanceRow }>('GET', `/api/v0/instances/${id}/`).then((r) => setRows((old) => new Map(old).set(id, r.instances)), setError)
          }
        />
      )}
      {confirm !== null && (
        <ConfirmDialog
          title="Destroy"
          thing={nameOf(confirm)}
          detail="Its processes, disk and GPUs are released; this cannot be undone."
          confirmLabel="Destroy"
          busy={busy.has(confirm.id)}
          onConfirm={() => void act(confirm, 'destroy')}
          onCancel={() => setConfirm(null)}
        />
      )}
    </section>
  );
}

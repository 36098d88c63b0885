import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import type { PageProps } from '../routes.js';
import { may } from '../session.js';
import { ConfirmDialog } from '../ui/confirm-dialog.js';
import { ErrorBanner } from '../ui/error-banner.js';
import { Progress } from '../ui/progress.js';
import { Table, type Column } from '../ui/table.js';
import { useResource } from '../ui/use-resource.js';
import { AddHost } from './machines/add-host.js';
import { ago, agentState, dollars, when, type MachineRow } from './machines/machine.js';
import { cancelMaintenanceChange, ListForm, MaintenanceForm, thing, unlistChange, type MachineChange } from './machines/machine-forms.js';

/** The agent's last contact and GPU utilisation change on their own: read them again this often. */
const REFRESH_MS = 10_000;

function GpuUtil({ m }: { m: MachineRow }) {
  if (m.gpu_util === null || m.gpu_util.length === 0) return <span class="muted">not reported</span>;
  return (
    <ul class="gpu-util">
      {m.gpu_util.map((u, i) => (
        <li key={i}>
          GPU {i} <meter min={0} max={100} value={u} aria-label={`GPU ${i} utilisation of machine ${m.id}`} /> {u.toFixed(0)}%
        </li>
      ))}
    </ul>
  );
}

function columns(now: number, actions: ((m: MachineRow) => ComponentChildren) | null): Column<MachineRow>[] {
  const cols: Column<MachineRow>[] = [
    { key: 'id', label: 'Machine', value: (m) => m.id, render: (m) => `${m.id} ${m.hostname}` },
    {
      key: 'gpus',
      label: 'GPUs',
      value: (m) => `${m.num_gpus}x ${m.gpu_name}`,
      render: (m) => `${m.num_gpus}× ${m.gpu_name} (${Math.round(m.gpu_ram / 1024)} GB)`,
    },
    { key: 'util', label: 'GPU utilisation', value: (m) => (m.gpu_util === null ? null : Math.max(...m.gpu_util)), render: (m) => <GpuUtil m={m} /> },
    {
      key: 'agent',
      label: 'Agent',
      value: (m) => agentState(m),
      render: (m) => (
        <span>
          <span class={`status-${agentState(m) === 'online' ? 'running' : agentState(m) === 'offline' ? 'failed' : 'stopping'}`}>{agentState(m)}</span>
          <br />
          <span class="muted">last contact {ago(m.last_seen, now)}</span>
        </span>
      ),
    },
    {
      key: 'listing',
      label: 'Listing',
      value: (m) => (m.listed ? (m.listed_gpu_cost ?? 0) : null),
      render: (m) =>
        m.listed ? (
          <span>
            listed, {dollars(m.listed_gpu_cost)}/GPU/h
            <br />
            min bid {dollars(m.min_bid_price)}
            {m.end_date !== null && (
              <>
                <br />
                until {when(m.end_date)}
              </>
            )}
          </span>
        ) : (
          <span class="muted">not listed</span>
        ),
    },
    {
      key: 'maintenance',
      label: 'Maintenance',
      value: (m) => m.maintenance?.sdate ?? null,
      render: (m) =>
        m.maintenance === null ? (
          <span class="muted">none</span>
        ) : (
          <span>
            {when(m.maintenance.sdate)} – {when(m.maintenance.edate)}
            {m.maintenance.reason !== null && m.maintenance.reason !== '' && (
              <>
                <br />
                {m.maintenance.reason}
              </>
            )}
          </span>
        ),
    },
  ];
  if (actions !== null) cols.push({ key: 'actions', label: 'Actions', value: () => null, render: actions });
  return cols;
}

export function MachinesPage({ session }: PageProps) {
  const machines = useResource((signal) => api<{ machines: MachineRow[] }>('GET', '/api/v0/machines/', { signal }).then((r) => r.machines), [], REFRESH_MS);
  const canWrite = may(session, 'machine.write');
  const [form, setForm] = useState<{ kind: 'list' | 'maintenance'; machine: MachineRow } | null>(null);
  const [pending, setPending] = useState<MachineChange | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const confirm = async (): Promise<void> => {
    if (pending === null) return;
    setBusy(true);
    setError(null);
    try {
      await api(pending.method, pending.path, pending.body === undefined ? {} : { body: pending.body });
      setDone(`${pending.confirmLabel}: ${thing(pending.machine)} done.`);
      setForm(null);
      machines.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      setPending(null);
    }
  };
  const actions = (m: MachineRow) => (
    <div class="actions">
      <button type="button" onClick={() => setForm({ kind: 'list', machine: m })} aria-label={`${m.listed ? 'Change listing of' : 'List'} machine ${m.id}`}>
        {m.listed ? 'Listing…' : 'List…'}
      </button>
      {m.listed && (
        <button type="button" onClick={() => setPending(unlistChange(m))} aria-label={`Unlist machine ${m.id}`}>
          Unlist
        </button>
      )}
      <button type="button" onClick={() => setForm({ kind: 'maintenance', machine: m })} aria-label={`Schedule maintenance of machine ${m.id}`}>
        Maintenance…
      </button>
      {m.maintenance !== null && (
        <button type="button" onClick={() => setPending(cancelMaintenanceChange(m))} aria-label={`Cancel maintenance of machine ${m.id}`}>
          Cancel maintenance
        </button>
      )}
    </div>
  );
  const rows = machines.data ?? [];
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Machines</h1>
      <p class="muted">
        {rows.length} machine{rows.length === 1 ? '' : 's'}, {rows.filter((m) => m.online).length} online, {rows.reduce((n, m) => n + m.num_gpus, 0)} GPUs.
      </p>
      <ErrorBanner error={machines.error} />
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {done !== null && (
        <p role="status" class="muted">
          {done}
        </p>
      )}
      {machines.data === null ? (
        machines.loading && <Progress label="Loading machines…" />
      ) : (
        <Table
          caption="Machines"
          columns={columns(Date.now(), canWrite ? actions : null)}
          rows={rows}
          rowKey={(m) => m.id}
          initialSort={{ key: 'id', dir: 'asc' }}
          empty="No machines yet: add a host to join one."
        />
      )}
      {canWrite && form?.kind === 'list' && <ListForm machine={form.machine} onSubmit={setPending} onClose={() => setForm(null)} />}
      {canWrite && form?.kind === 'maintenance' && <MaintenanceForm machine={form.machine} onSubmit={setPending} onClose={() => setForm(null)} />}
      {canWrite && <AddHost />}
      {pending !== null && (
        <ConfirmDialog
          title={pending.title}
          thing={thing(pending.machine)}
          detail={pending.detail}
          confirmLabel={pending.confirmLabel}
          busy={busy}
          onConfirm={() => void confirm()}
          onCancel={() => setPending(null)}
        />
      )}
    </section>
  );
}

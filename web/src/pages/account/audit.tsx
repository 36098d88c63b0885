import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { Progress } from '../../ui/progress.js';
import { Table } from '../../ui/table.js';
import { useResource } from '../../ui/use-resource.js';

interface AuditRow {
  readonly id: number;
  /** Epoch seconds. */
  readonly created_at: number;
  readonly api_key_id: number | null;
  readonly method: string;
  readonly path: string;
  readonly status_code: number;
  readonly error: string | null;
}

const PAGE = 20;
/** A long path breaks anywhere rather than widen the table (on a phone, a row is a card). */
const WRAP = { overflowWrap: 'anywhere', minWidth: 0 } as const;

/** The audit log, newest first, a page at a time (`before_id` of the page's last row). */
export function AuditLog() {
  // The `before_id` of each page shown so far; the first page has none.
  const [cursors, setCursors] = useState<readonly (number | null)[]>([null]);
  const before = cursors[cursors.length - 1] ?? null;
  const rows = useResource(
    (signal) => api<AuditRow[]>('GET', `/api/v0/audit_logs/?limit=${PAGE}${before === null ? '' : `&before_id=${before}`}`, { signal }),
    [before],
  );
  const data = rows.data ?? [];
  const last = data[data.length - 1];
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <ErrorBanner error={rows.error} />
      {rows.loading && <Progress label="Loading the audit log…" />}
      {/* Not before the first page came: a log that failed to load is not an empty one. */}
      {rows.data !== null && (
        <Table
          caption={`Audit log, page ${cursors.length}`}
          filter={false}
          columns={[
            { key: 'id', label: 'Id', value: (r) => r.id },
            {
              key: 'at',
              label: 'When (UTC)',
              value: (r) => r.created_at,
              render: (r) => new Date(r.created_at * 1000).toISOString().slice(0, 19).replace('T', ' '),
            },
            { key: 'call', label: 'Call', value: (r) => `${r.method} ${r.path}`, render: (r) => <code style={WRAP}>{`${r.method} ${r.path}`}</code> },
            { key: 'status', label: 'Status', value: (r) => r.status_code, render: (r) => `${r.status_code}${r.error !== null ? ` ${r.error}` : ''}` },
            { key: 'key', label: 'Key', value: (r) => r.api_key_id },
          ]}
          rows={data}
          rowKey={(r) => r.id}
          empty="Nothing recorded."
        />
      )}
      <div class="actions">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors([null])}>
          Newest
        </button>
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={data.length < PAGE || last === undefined} onClick={() => last !== undefined && setCursors([...cursors, last.id])}>
          Older
        </button>
        <button type="button" onClick={rows.reload}>
          Refresh
        </button>
      </div>
    </section>
  );
}

import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { ConfirmDialog } from '../../ui/confirm-dialog.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { Progress } from '../../ui/progress.js';
import { Table } from '../../ui/table.js';
import { useResource } from '../../ui/use-resource.js';

/**
 * Secrets (the account's env vars, given to every instance it starts). Listed by name from
 * `GET /console/api/secrets`, which never answers a value (Vast's `GET /api/v0/secrets` does); a value
 * is typed into a password field, sent, and the field is emptied: it is never shown back.
 */
export function Secrets({ canWrite }: { canWrite: boolean }) {
  const names = useResource((signal) => api<{ secrets: { name: string }[] }>('GET', '/console/api/secrets', { signal }).then((r) => r.secrets));
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [mode, setMode] = useState<'create' | 'update'>('create');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(mode === 'create' ? 'Adding…' : 'Changing…');
    setError(null);
    setSaved(null);
    try {
      await api(mode === 'create' ? 'POST' : 'PUT', '/api/v0/secrets/', { body: { key: name.trim(), value } });
      setSaved(`${name.trim().toUpperCase()} ${mode === 'create' ? 'added' : 'changed'}; its value is not shown again.`);
      setName('');
      setMode('create');
      names.reload();
    } catch (err) {
      setError(err);
    } finally {
      // Forget the value either way: it is typed again rather than kept in the page.
      setValue('');
      setBusy(null);
    }
  };
  const remove = async (): Promise<void> => {
    if (deleting === null) return;
    setBusy('Deleting…');
    setError(null);
    try {
      await api('DELETE', '/api/v0/secrets/', { body: { key: deleting } });
      names.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
      setDeleting(null);
    }
  };
  return (
    <section aria-labelledby="secrets-title">
      <h2 id="secrets-title">Secrets (environment variables)</h2>
      <p class="muted">Every instance of the account starts with these. Values are write-only here.</p>
      <ErrorBanner error={names.error} />
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {saved !== null && <p class="muted">{saved}</p>}
      {names.data === null ? (
        names.loading && <Progress label="Loading secrets…" />
      ) : (
        <Table
          caption="Secrets"
          filter={false}
          columns={[
            { key: 'name', label: 'Name', value: (s) => s.name, render: (s) => <code>{s.name}</code> },
            { key: 'value', label: 'Value', value: () => null, render: () => <span class="muted">hidden</span> },
            ...(canWrite
              ? [
                  {
                    key: 'actions',
                    label: 'Actions',
                    value: () => null,
                    render: (s: { name: string }) => (
                      <div class="actions">
                        <button
                          type="button"
                          onClick={() => {
                            setName(s.name);
                            setMode('update');
                          }}
                          aria-label={`Change the value of ${s.name}`}
                        >
                          Change
                        </button>
                        <button type="button" class="danger" onClick={() => setDeleting(s.name)} aria-label={`Delete ${s.name}`}>
                          Delete
                        </button>
                      </div>
                    ),
                  },
                ]
              : []),
          ]}
          rows={names.data ?? []}
          rowKey={(s) => s.name}
          empty="No secrets."
        />
      )}
      {canWrite && (
        <form class="panel toolbar" onSubmit={(e) => void save(e)} aria-label={mode === 'create' ? 'Add a secret' : `Change ${name}`}>
          <div>
            <label for="secret-name">Name</label>
            <input id="secret-name" required value={name} readOnly={mode === 'update'} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <div>
            <label for="secret-value">{mode === 'create' ? 'Value' : 'New value'}</label>
            <input id="secret-value" type="password" autocomplete="off" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </div>
          <button type="submit" disabled={busy !== null}>
            {mode === 'create' ? 'Add secret' : 'Change secret'}
          </button>
          {mode === 'update' && (
            <button
              type="button"
              onClick={() => {
                setMode('create');
                setName('');
                setValue('');
              }}
            >
              Cancel
            </button>
          )}
        </form>
      )}
      {busy !== null && <Progress label={busy} />}
      {deleting !== null && (
        <ConfirmDialog
          title="Delete"
          thing={`secret ${deleting}`}
          detail="Instances started from now on no longer get it."
          confirmLabel="Delete"
          busy={busy !== null}
          onConfirm={() => void remove()}
          onCancel={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

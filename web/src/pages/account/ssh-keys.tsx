import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { ConfirmDialog } from '../../ui/confirm-dialog.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { Progress } from '../../ui/progress.js';
import { Table } from '../../ui/table.js';
import { useResource } from '../../ui/use-resource.js';

interface SshKeyRow {
  readonly id: number;
  readonly public_key: string;
  readonly created_at: string | null;
}

/** The key's type and comment, enough to recognise it ("ssh-ed25519 … me@laptop"). */
const short = (k: string): string => {
  const [type = '', body = '', ...comment] = k.trim().split(/\s+/);
  return `${type} …${body.slice(-12)} ${comment.join(' ')}`.trim();
};

/** SSH keys: new instances get them; add one, remove one with confirmation. */
export function SshKeys({ canWrite }: { canWrite: boolean }) {
  const keys = useResource((signal) => api<SshKeyRow[]>('GET', '/api/v0/ssh/', { signal }));
  const [text, setText] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [removing, setRemoving] = useState<SshKeyRow | null>(null);
  const add = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy('Adding the key…');
    setError(null);
    try {
      await api('POST', '/api/v0/ssh/', { body: { ssh_key: text.trim() } });
      setText('');
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  const remove = async (): Promise<void> => {
    if (removing === null) return;
    setBusy('Removing…');
    setError(null);
    try {
      await api('DELETE', `/api/v0/ssh/${removing.id}/`);
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
      setRemoving(null);
    }
  };
  return (
    <section aria-labelledby="ssh-title">
      <h2 id="ssh-title">SSH keys</h2>
      <ErrorBanner error={keys.error} />
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {keys.data === null ? (
        keys.loading && <Progress label="Loading SSH keys…" />
      ) : (
        <Table
          caption="SSH keys"
          filter={false}
          columns={[
            { key: 'id', label: 'Id', value: (k) => k.id },
            { key: 'key', label: 'Key', value: (k) => short(k.public_key) },
            { key: 'created', label: 'Added', value: (k) => k.created_at?.slice(0, 16).replace('T', ' ') ?? '' },
            ...(canWrite
              ? [
                  {
                    key: 'remove',
                    label: 'Actions',
                    value: () => null,
                    render: (k: SshKeyRow) => (
                      <button type="button" class="danger" onClick={() => setRemoving(k)} aria-label={`Remove SSH key ${k.id}`}>
                        Remove
                      </button>
                    ),
                  },
                ]
              : []),
          ]}
          rows={keys.data ?? []}
          rowKey={(k) => k.id}
          empty="No SSH keys."
        />
      )}
      {canWrite && (
        <form class="panel" onSubmit={(e) => void add(e)} aria-label="Add an SSH key">
          <div class="field">
            <label for="new-ssh-key">Public key</label>
            <textarea
              id="new-ssh-key"
              rows={2}
              required
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
              placeholder="ssh-ed25519 AAAA… you@host"
            />
          </div>
          <button type="submit" disabled={busy !== null || text.trim() === ''}>
            Add SSH key
          </button>
        </form>
      )}
      {busy !== null && <Progress label={busy} />}
      {removing !== null && (
        <ConfirmDialog
          title="Remove"
          thing={`SSH key ${removing.id} (${short(removing.public_key)})`}
          detail="Instances created from now on no longer get it."
          confirmLabel="Remove"
          busy={busy !== null}
          onConfirm={() => void remove()}
          onCancel={() => setRemoving(null)}
        />
      )}
    </section>
  );
}

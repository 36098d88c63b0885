import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import type { Session } from '../../session.js';
import { ConfirmDialog } from '../../ui/confirm-dialog.js';
import { CopyButton } from '../../ui/copy-button.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { isolate } from '../../ui/format.js';
import { Progress } from '../../ui/progress.js';
import { Table } from '../../ui/table.js';
import { useResource } from '../../ui/use-resource.js';

interface KeyRow {
  readonly id: number;
  readonly name: string;
  /** The key's permission JSON as text; null: every category. */
  readonly rights: string | null;
  readonly created_at: string | null;
}

/** The permission categories a key is granted (src/domain/account/permissions.ts; Vast's key scopes). */
const CATEGORIES = [
  ['instance_read', 'read instances'],
  ['instance_write', 'create and change instances'],
  ['user_read', 'read the account, keys, SSH keys, env vars, audit log'],
  ['user_write', 'change the account, keys, SSH keys, env vars'],
  ['billing_read', 'read charges, invoices, balance'],
  ['billing_write', 'transfer credit'],
  ['machine_read', 'read machines'],
  ['machine_write', 'list, unlist, maintain machines; host tokens'],
  ['misc', 'offers, serverless, templates, AI Core, models'],
  ['team_read', 'read the team'],
  ['team_write', 'change the team'],
] as const;

/** The categories of a key, from its stored permission JSON. */
function categoriesOf(rights: string | null): string {
  if (rights === null) return 'all';
  try {
    const api = (JSON.parse(rights) as { api?: Record<string, unknown> }).api ?? {};
    const names = Object.keys(api);
    return names.length === 0 ? 'none' : names.join(', ');
  } catch {
    return rights;
  }
}

/** API keys: the list, create with chosen categories (the key is shown once), revoke with confirmation. */
export function ApiKeys({ session, canWrite }: { session: Session; canWrite: boolean }) {
  const keys = useResource((signal) => api<{ apikeys: KeyRow[] }>('GET', '/api/v0/auth/apikeys/', { signal }).then((r) => r.apikeys));
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(['instance_read']));
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<{ id: number; key: string } | null>(null);
  const [revoking, setRevoking] = useState<KeyRow | null>(null);
  const toggle = (c: string): void => {
    const next = new Set(chosen);
    if (next.has(c)) next.delete(c);
    else next.add(c);
    setChosen(next);
  };
  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy('Creating the key…');
    setError(null);
    setCreated(null);
    try {
      const permissions = { api: Object.fromEntries([...chosen].map((c) => [c, {}])) };
      const r = await api<{ id: number; key: string }>('POST', '/api/v0/auth/apikeys/', {
        body: { name: name.trim() === '' ? 'console key' : name.trim(), permissions },
      });
      setCreated({ id: r.id, key: r.key });
      setName('');
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  const revoke = async (): Promise<void> => {
    if (revoking === null) return;
    setBusy('Revoking…');
    setError(null);
    try {
      await api('DELETE', `/api/v0/auth/apikeys/${revoking.id}/`);
      if (created?.id === revoking.id) setCreated(null);
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
      setRevoking(null);
    }
  };
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <ErrorBanner error={keys.error} />
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {created !== null && (
        <div class="panel" role="region" aria-label="New API key">
          <p>
            New key {created.id} (shown once, copy it now): <code class="secret-once">{created.key}</code>
          </p>
          <CopyButton text={created.key} label="Copy the key" />
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {/* A list that failed to load shows only its error: "Nothing here yet." would say there is none. */}
      {keys.data === null ? (
        keys.loading && <Progress label="Loading API keys…" />
      ) : (
        <Table
          caption="API keys"
          filter={false}
          columns={[
            { key: 'id', label: 'Id', value: (k) => k.id },
            { key: 'name', label: 'Name', value: (k) => k.name, render: (k) => (k.id === session.key.id ? `${k.name} (this session)` : k.name) },
            { key: 'rights', label: 'Permissions', value: (k) => categoriesOf(k.rights) },
            { key: 'created', label: 'Created', value: (k) => k.created_at?.slice(0, 16).replace('T', ' ') ?? '' },
            ...(canWrite
              ? [
                  {
                    key: 'revoke',
                    label: 'Actions',
                    value: () => null,
                    render: (k: KeyRow) =>
                      k.id === session.key.id ? (
                        <span class="muted">in use here</span>
                      ) : (
                        <button type="button" class="danger" onClick={() => setRevoking(k)} aria-label={`Revoke API key ${k.id} (${isolate(k.name)})`}>
                          Revoke
                        </button>
                      ),
                  },
                ]
              : []),
          ]}
          rows={keys.data ?? []}
          rowKey={(k) => k.id}
        />
      )}
      {canWrite && (
        <form class="panel" onSubmit={(e) => void create(e)} aria-label="Create an API key">
          <div class="field">
            <label for="new-key-name">Name</label>
            <input id="new-key-name" value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <fieldset>
            <legend>Permissions (a key may only grant what this one holds)</legend>
            {CATEGORIES.map(([c, words]) => (
              <div key={c}>
                <input id={`perm-${c}`} type="checkbox" checked={chosen.has(c)} onChange={() => toggle(c)} />
                <label for={`perm-${c}`}>
                  <code>{c}</code>: {words}
                </label>
              </div>
            ))}
          </fieldset>
          <button type="submit" disabled={busy !== null}>
            Create key
          </button>
        </form>
      )}
      {busy !== null && <Progress label={busy} />}
      {revoking !== null && (
        <ConfirmDialog
          title="Revoke"
          thing={`API key ${revoking.id} (${isolate(revoking.name)})`}
          detail="Every call made with it fails from now on."
          confirmLabel="Revoke"
          busy={busy !== null}
          onConfirm={() => void revoke()}
          onCancel={() => setRevoking(null)}
        />
      )}
    </section>
  );
}

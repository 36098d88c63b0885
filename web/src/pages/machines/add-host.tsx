import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { CopyButton } from '../../ui/copy-button.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { Progress } from '../../ui/progress.js';

interface HostToken {
  readonly id: number;
  readonly name: string;
  readonly token: string;
  readonly command: string;
}

/**
 * "Add a host": a fresh host token and the exact `gantry agent` command that joins a GPU machine to
 * this account (`POST /console/api/host_tokens`, which knows the URL agents reach the server by).
 * The token is shown once; leaving the panel forgets it.
 */
export function AddHost() {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [made, setMade] = useState<HostToken | null>(null);
  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setMade(await api<HostToken>('POST', '/console/api/host_tokens', { body: name.trim() === '' ? {} : { name: name.trim() } }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="add-host-title">
      <h2 id="add-host-title">Add a host</h2>
      <form class="toolbar" onSubmit={(e) => void create(e)}>
        <div>
          <label for="host-token-name">Name (optional)</label>
          <input id="host-token-name" value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={busy}>
          Make a host token
        </button>
        {busy && <Progress label="Making a host token…" />}
      </form>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {made !== null && (
        <div>
          <p>
            Host token <strong>{made.name}</strong> (shown once). On the GPU machine, in a Gantry checkout, after <code>npm install</code>:
          </p>
          <pre class="command" aria-label="Command to run on the new host" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
            <code>{made.command}</code>
          </pre>
          <CopyButton text={made.command} label="Copy the command" />
          <p class="muted">The agent finds the GPUs with nvidia-smi; the machine appears below once it has said hello.</p>
        </div>
      )}
    </section>
  );
}

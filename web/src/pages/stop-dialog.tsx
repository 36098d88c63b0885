import { useEffect, useRef, useState } from 'preact/hooks';
import { Progress } from '../ui/progress.js';

export interface StopOptions {
  readonly drain: boolean;
  readonly timeout_s: number | null;
  readonly force: boolean;
}

/**
 * The engine's stop options for one deployment: drain (answer every held request first) with a
 * timeout, and force (stop even when other endpoints route to it). A modal <dialog>: Escape cancels.
 */
export function StopDialog(p: { name: string; busy: boolean; onStop: (o: StopOptions) => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [drain, setDrain] = useState(true);
  const [timeout, setTimeoutS] = useState('60');
  const [force, setForce] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d !== null && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  const submit = (e: Event): void => {
    e.preventDefault();
    p.onStop({ drain, timeout_s: drain && timeout.trim() !== '' ? Number(timeout) : null, force });
  };
  return (
    <dialog
      ref={ref}
      class="confirm stop"
      aria-labelledby="stop-title"
      onCancel={(e) => {
        e.preventDefault();
        if (!p.busy) p.onCancel();
      }}
    >
      <h2 id="stop-title">
        Stop deployment <bdi>{p.name}</bdi>
      </h2>
      <form onSubmit={submit}>
        <div class="check">
          <input id="stop-drain" type="checkbox" checked={drain} onChange={(e) => setDrain(e.currentTarget.checked)} />
          <label for="stop-drain">Drain: answer every queued and in-flight request before workers stop</label>
        </div>
        <div class="field">
          <label for="stop-timeout">Drain timeout (seconds)</label>
          <input id="stop-timeout" type="number" min="0" step="1" disabled={!drain} value={timeout} onInput={(e) => setTimeoutS(e.currentTarget.value)} />
        </div>
        <div class="check">
          <input id="stop-force" type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
          <label for="stop-force">Force: stop even when other endpoints route to it</label>
        </div>
        <div class="actions">
          <button type="button" onClick={p.onCancel} disabled={p.busy}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={p.busy}>
            Stop
          </button>
          {p.busy && <Progress label="Asking to stop…" />}
        </div>
      </form>
    </dialog>
  );
}

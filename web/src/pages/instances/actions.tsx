import { useState } from 'preact/hooks';
import { nameOf, startOrStop, type InstanceRow } from './types.js';

/** What the key may do to instances (from the session's `can`). */
export interface InstanceRights {
  readonly read: boolean;
  /** start, stop, destroy (`instance.change`) */
  readonly change: boolean;
  /** label, reboot, recycle (`instance.manage`) */
  readonly manage: boolean;
}

export type InstanceAction = 'start' | 'stop' | 'reboot' | 'recycle' | 'destroy' | 'logs' | { label: string };

/** The buttons of one row: only what the key may do, and only what the instance's status allows. */
export function RowActions({ row, rights, busy, act }: { row: InstanceRow; rights: InstanceRights; busy: boolean; act: (a: InstanceAction) => void }) {
  const [labelling, setLabelling] = useState(false);
  const [label, setLabel] = useState(row.label ?? '');
  const toggle = startOrStop(row);
  const stopped = toggle !== 'stop';
  const name = nameOf(row);
  const b = (text: string, a: InstanceAction, danger = false, wait = false) => (
    <button
      type="button"
      class={danger ? 'danger' : undefined}
      disabled={busy || wait}
      title={wait ? 'Still stopping: start it once it is stopped.' : undefined}
      onClick={() => act(a)}
      aria-label={`${text} ${name}`}
    >
      {text}
    </button>
  );
  if (labelling)
    return (
      <form
        class="actions"
        onSubmit={(e) => {
          e.preventDefault();
          setLabelling(false);
          act({ label });
        }}
      >
        <label for={`label-${row.id}`}>New label</label>
        <input id={`label-${row.id}`} value={label} onInput={(e) => setLabel(e.currentTarget.value)} size={12} />
        <button type="submit">Save label</button>
        <button type="button" onClick={() => setLabelling(false)}>
          Cancel
        </button>
      </form>
    );
  return (
    <div class="actions">
      {rights.read && b('Logs', 'logs')}
      {rights.change && (stopped ? b('Start', 'start', false, toggle === 'wait') : b('Stop', 'stop'))}
      {/* Reboot and recycle restart a running instance; the engine refuses both on a stopped one ("start it instead"). */}
      {rights.manage && !stopped && b('Reboot', 'reboot')}
      {rights.manage && !stopped && b('Recycle', 'recycle')}
      {rights.manage && (
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            // The label as it is now (it may have changed since the row first showed), not as first seen.
            setLabel(row.label ?? '');
            setLabelling(true);
          }}
          aria-label={`Label ${name}`}
        >
          Label
        </button>
      )}
      {rights.change && b('Destroy', 'destroy', true)}
    </div>
  );
}

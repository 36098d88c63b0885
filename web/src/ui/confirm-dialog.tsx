import { useEffect, useRef } from 'preact/hooks';
import { Progress } from './progress.js';

export interface ConfirmProps {
  /** What the action does, e.g. "Destroy instance". */
  readonly title: string;
  /** The thing it acts on, named in the question (e.g. "instance 12 (my-label)"). */
  readonly thing: string;
  readonly detail?: string;
  readonly confirmLabel: string;
  readonly busy?: boolean;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
}

/**
 * A modal confirmation naming the thing it acts on. The native <dialog> traps focus and closes on
 * Escape (which cancels); the cancel button has focus first so Enter never destroys by accident.
 */
export function ConfirmDialog(p: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d !== null && !d.open) d.showModal();
    cancel.current?.focus();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-question"
      onCancel={(e) => {
        e.preventDefault();
        if (p.busy !== true) p.onCancel();
      }}
    >
      <h2 id="confirm-title">{p.title}</h2>
      <p id="confirm-question">
        {/* <bdi>: the thing holds user text (a label, a name); its direction marks stay inside it. */}
        {p.title}{' '}
        <strong>
          <bdi>{p.thing}</bdi>
        </strong>
        ?{p.detail !== undefined ? ` ${p.detail}` : ''}
      </p>
      <div class="actions">
        <button type="button" ref={cancel} onClick={p.onCancel} disabled={p.busy === true}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={p.onConfirm} disabled={p.busy === true}>
          {p.confirmLabel}
        </button>
        {p.busy === true && <Progress label={`${p.confirmLabel}…`} />}
      </div>
    </dialog>
  );
}

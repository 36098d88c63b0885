import { useState } from 'preact/hooks';

/** Copies `text` to the clipboard; says whether it worked (the clipboard needs a secure context or localhost). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'copied' | 'failed' | null>(null);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      setDone('failed');
    }
  };
  return (
    <span class="actions">
      <button type="button" onClick={() => void copy()}>
        {label}
      </button>
      <span aria-live="polite" class="muted">
        {done === 'copied' ? 'Copied.' : done === 'failed' ? 'The browser refused the clipboard: select the text and copy it.' : ''}
      </span>
    </span>
  );
}

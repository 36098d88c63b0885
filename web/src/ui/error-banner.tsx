import { messageOf } from '../api.js';

/** The API's message for a failed call, shown as it came (never swallowed), until dismissed or replaced. */
export function ErrorBanner({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (error === null || error === undefined) return null;
  return (
    <div class="error-banner" role="alert">
      <span>{messageOf(error)}</span>
      {onDismiss !== undefined && (
        <button type="button" class="link" onClick={onDismiss} aria-label="Dismiss the error">
          Dismiss
        </button>
      )}
    </div>
  );
}

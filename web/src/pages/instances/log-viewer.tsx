import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../../api.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { Progress } from '../../ui/progress.js';

/** How often a followed log is read again. */
const FOLLOW_MS = 2000;
const TAIL = 500;

/**
 * An instance's output, read as Vast's clients read it: `PUT /api/v0/instances/request_logs/:id`
 * captures the last lines behind a result URL, fetched next. While following, it is read again every
 * two seconds and the view stays at the newest line.
 */
export function LogViewer({ id, name, onClose }: { id: number; name: string; onClose: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [follow, setFollow] = useState(true);
  /** The instance is gone (404): there is nothing more to read, so following ends. */
  const [gone, setGone] = useState(false);
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    if (gone) return undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const read = async (): Promise<void> => {
      let asked = false;
      try {
        const r = await api<{ result_url: string }>('PUT', `/api/v0/instances/request_logs/${id}/`, { body: { tail: TAIL } });
        asked = true;
        // The result URL names this server as the API sees it; the page reads it from its own origin.
        const got = await api<string>('GET', new URL(r.result_url, location.href).pathname);
        if (!stopped) {
          setText(typeof got === 'string' ? got : JSON.stringify(got));
          setError(null);
        }
      } catch (err) {
        if (stopped) return;
        setError(err);
        if (!asked && err instanceof ApiError && err.status === 404) {
          setGone(true);
          return;
        }
      }
      if (!stopped && follow) timer = setTimeout(() => void read(), FOLLOW_MS);
    };
    void read();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    };
  }, [id, follow, gone]);

  useEffect(() => {
    const el = pre.current;
    if (el !== null && follow) el.scrollTop = el.scrollHeight;
  }, [text, follow]);

  return (
    <section class="panel" aria-labelledby="log-title">
      <h2 id="log-title">
        Logs of <bdi>{name}</bdi>
      </h2>
      <div class="actions">
        <label>
          <input type="checkbox" checked={follow && !gone} disabled={gone} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow new lines
        </label>
        <button type="button" onClick={onClose}>
          Close logs
        </button>
      </div>
      <ErrorBanner error={error} />
      {text === null && error === null ? (
        <Progress label="Reading the log…" />
      ) : text === null || gone ? null : (
        <pre class="log" ref={pre} tabIndex={0} aria-label={`Output of ${name}`} aria-live="off">
          {text === '' ? '(no output yet)' : text}
        </pre>
      )}
    </section>
  );
}

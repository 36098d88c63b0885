import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, onUnauthorized, useKey } from './api.js';
import { ROUTES } from './routes.js';
import { navigate, useHashPath } from './router.js';
import { login, logout, may, storedKey, type Session } from './session.js';
import { push } from './push.js';
import { ErrorBanner } from './ui/error-banner.js';
import { Progress } from './ui/progress.js';
// uPlot's CSS always ships, so pages that draw charts need nothing else.
import 'uplot/dist/uPlot.min.css';
import './ui/layout.css';

function Login({ onLogin, error: initial }: { onLogin: (s: Session) => void; error: unknown }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(initial);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await login(key.trim()));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>Gantry console</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <p class="muted">The key is kept in this tab only (session storage) and sent as a bearer token.</p>
        <button type="submit" disabled={busy || key.trim() === ''}>
          Log in
        </button>
        {busy && <Progress label="Checking the key…" />}
        <ErrorBanner error={error} />
      </form>
    </main>
  );
}

function Shell({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const path = useHashPath();
  const pages = ROUTES.filter((r) => r.needs.some((a) => may(session, a)));
  const route = pages.find((r) => r.path === path);
  useEffect(() => {
    if (route === undefined && pages[0] !== undefined) navigate(pages[0].path);
  }, [route, pages]);
  const Page = route?.page;
  return (
    <div class="shell">
      {/* A hash router reads "#main" as a page: the link moves focus itself and leaves the URL alone. */}
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Gantry</span>
        <nav aria-label="Console pages">
          <ul>
            {pages.map((r) => (
              <li key={r.path}>
                <a href={`#/${r.path}`} aria-current={r === route ? 'page' : undefined}>
                  {r.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {session.account.username}
          {session.account.is_admin ? ' (admin)' : ''}
          <button type="button" class="link" onClick={onLogout}>
            Log out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {Page !== undefined ? <Page session={session} /> : <p>{pages.length === 0 ? 'This key may not read anything the console shows.' : 'Opening…'}</p>}
      </main>
    </div>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(storedKey() !== null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const key = storedKey();
    if (key === null) return;
    // A reload keeps the tab's key: check it again (it may have been revoked meanwhile).
    login(key)
      .then(setSession)
      .catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) logout();
        setError(err);
      })
      .finally(() => setChecking(false));
  }, []);
  // A key revoked while the tab is open: every page would fail one by one; the tab logs out instead and says why.
  useEffect(() => {
    if (session === null) return;
    onUnauthorized((err) => {
      push.stop();
      logout();
      setSession(null);
      setError(err);
    });
    return () => onUnauthorized(null);
  }, [session]);
  if (checking)
    return (
      <main id="main">
        <Progress label="Checking the key…" />
      </main>
    );
  if (session === null) return <Login onLogin={setSession} error={error} />;
  return (
    <Shell
      session={session}
      onLogout={() => {
        push.stop();
        logout();
        useKey(null);
        setSession(null);
        setError(null);
      }}
    />
  );
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}

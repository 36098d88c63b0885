import { api, useKey } from './api.js';

/** What `GET /console/api/session` says about the key: who it is and how far it reaches per action. */
export interface Session {
  readonly account: { readonly id: number; readonly username: string; readonly is_admin: boolean };
  readonly key: { readonly id: number | null; readonly scope: string; readonly instance_id: number | null };
  readonly can: Readonly<Record<string, 'all' | 'some' | 'none'>>;
}

/** The key lives in this tab's session storage only: closing the tab or logging out forgets it. */
const STORAGE = 'gantry.console.key';

/** Whether the session may do `action` on at least some things. */
export const may = (s: Session, action: string): boolean => (s.can[action] ?? 'none') !== 'none';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

/** Checks the key with the server; keeps it for the tab only when the server accepts it. */
export async function login(key: string): Promise<Session> {
  const session = await api<Session>('GET', '/console/api/session', { key });
  sessionStorage.setItem(STORAGE, key);
  useKey(key);
  return session;
}

export function logout(): void {
  sessionStorage.removeItem(STORAGE);
  useKey(null);
}

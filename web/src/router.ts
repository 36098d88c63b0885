import { useEffect, useState } from 'preact/hooks';

/** The page named by the location's hash (`#/instances` → `instances`; extra segments are the page's own). */
export function currentPath(): string {
  return location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
}

/** The current hash path, re-rendering on navigation (a hash router: the server serves one page). */
export function useHashPath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = (): void => setPath(currentPath());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return path;
}

export function navigate(path: string): void {
  location.hash = `#/${path}`;
}

import { startedByNpmExec } from '../config/load.js';

/**
 * Run `shutdown` on Ctrl-C, on SIGTERM, and, under `npx` / `npm exec`, when npm is gone: npm runs a
 * command under a shell and does not pass its SIGTERM on, so a long-running verb checks every
 * `parentWatchMs` that its parent still runs instead of being left orphaned.
 */
export function stopOnSignals(shutdown: (why: string) => void, parentWatchMs: number): void {
  if (startedByNpmExec()) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) shutdown('npm exited');
    }, parentWatchMs).unref();
  }
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

import { startedByNpmExec } from '../config/load.js';

/**
 * Run `shutdown` on Ctrl-C, on SIGTERM, and, under `npx` / `npm exec`, when npm is gone: npm runs a
 * command under a shell and does not pass its SIGTERM on, so a long-running verb checks every
 * `parentWatchMs` that its parent still runs instead of being left orphaned.
 */
export function stopOnSignals(shutdown: (why: string) => void, parentWatchMs: number): void {
  if (startedByNpmExec()) {
    // As bin/gantry.js read it at launch (npm may have exited while the CLI loaded); else the parent now.
    const launched = (globalThis as Record<symbol, unknown>)[Symbol.for('gantry.launchParent')];
    const parent = typeof launched === 'number' ? launched : process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) shutdown('npm exited');
    }, parentWatchMs).unref();
  }
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

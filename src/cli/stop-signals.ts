import { startedByNpmExec } from '../config/load.js';

/**
 * Run `shutdown` once: on Ctrl-C, on SIGTERM, and, under `npx` / `npm exec`, when npm is gone: npm runs a
 * command under a shell and does not pass its SIGTERM on, so a long-running verb checks every
 * `parentWatchMs` that its parent still runs instead of being left orphaned. A signal once the shutdown
 * began exits at once (130 for Ctrl-C, 143 for SIGTERM): the shutdown waits for the work under way (a stop
 * in flight waits out its grace, an image pull its download), and a second Ctrl-C means now.
 */
export function stopOnSignals(shutdown: (why: string) => void, parentWatchMs: number): void {
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    shutdown(why);
  };
  if (startedByNpmExec()) {
    // As bin/gantry.js read it at launch (npm may have exited while the CLI loaded); else the parent now.
    const launched = (globalThis as Record<symbol, unknown>)[Symbol.for('gantry.launchParent')];
    const parent = typeof launched === 'number' ? launched : process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop('npm exited');
    }, parentWatchMs).unref();
  }
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (!stopping) return stop(signal);
    process.stderr.write(`${signal} again: exiting now, without waiting for the work under way.\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

import { EventEmitter } from 'node:events';

/**
 * How a proxied request is given up (a drain out of time, the caller's deadline): what undici takes as a
 * request's `signal`, an EventEmitter with `aborted` and `reason`. One is made per proxied request, where
 * an AbortController (an EventTarget, with its signal and listener bookkeeping) was a measurable share.
 */
export class Abort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  /** Abort with `signal` too, until the returned function is called. */
  follow(signal: AbortSignal): () => void {
    if (signal.aborted) {
      this.abort(signal.reason);
      return () => undefined;
    }
    const on = (): void => this.abort(signal.reason);
    signal.addEventListener('abort', on, { once: true });
    return () => signal.removeEventListener('abort', on);
  }
}

/** Abort each; a listener that throws (an EventEmitter passes it up) must not leave the others running. */
export function abortAll(all: Iterable<Abort>, reason: unknown): void {
  for (const a of all) {
    try {
      a.abort(reason);
    } catch {
      // that request's own failure; the rest are aborted all the same
    }
  }
}

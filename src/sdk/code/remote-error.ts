/**
 * Arguments and results cross as JSON (decision 020): what `JSON.stringify` keeps survives (numbers,
 * strings, booleans, null, arrays, plain objects); a Date arrives as its ISO string, a Map or Set as
 * `{}`, a Buffer as `{type, data}`, `undefined` in an array as null. An error thrown remotely crosses as
 * `{name, message, stack}` and is thrown again on the caller as a RemoteError.
 */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack ?? `${err.name}: ${err.message}` };
  return { name: 'Error', message: String(err), stack: `Error: ${String(err)}` };
}

/** An error a remote function threw on a worker: its name and message, the worker's stack after the caller's. */
export class RemoteError extends Error {
  /** The name of the error on the worker (`TypeError`, a class of the app's own...). */
  readonly remoteName: string;
  readonly remoteStack: string;
  constructor(fn: string, e: WireError) {
    super(e.message);
    this.name = 'RemoteError';
    this.remoteName = e.name;
    this.remoteStack = e.stack;
    this.stack = `${this.stack ?? ''}\n    --- on the worker, in ${fn}() ---\n${e.stack}`;
  }
}

/** The body the worker answers a call with. */
export type CallAnswer = { readonly result: unknown } | { readonly error: WireError };

export function isWireError(v: unknown): v is WireError {
  const o = v as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && typeof o.message === 'string' && typeof o.name === 'string' && typeof o.stack === 'string';
}

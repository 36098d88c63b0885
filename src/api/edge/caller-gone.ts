import type { ServerResponse } from 'node:http';
import { Abort } from '../../gateway/abort.js';

/**
 * Aborts when the caller's connection closes before its answer was sent: a proxied request that waits
 * in an endpoint's queue then gives up its place at once (`ProxyRequest.gone`), as the wire path does.
 */
export function callerGone(res: ServerResponse): Abort {
  const gone = new Abort();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(null);
  });
  return gone;
}

import type { RoutingView } from '../control/serverless/routing.js';
import type { EndpointTraffic, TrafficOptions } from './endpoint-traffic.js';

/**
 * An endpoint's routing view: the one this gateway holds while younger than `directoryMs`, else a read of
 * the store made after every intent (stop, start) this gateway knows of. `read`: it was read now (the caller
 * acts on a new view once), not the one held.
 */
export async function readView(
  o: Pick<TrafficOptions, 'directory' | 'directoryMs' | 'now'>,
  id: number,
  t: EndpointTraffic,
): Promise<{ view: RoutingView; read: boolean }> {
  for (;;) {
    // Also after a dropped read: a stop on this replica sets the view it closed to (Traffic.close).
    if (t.view !== null && o.now() - t.viewAt < o.directoryMs) return { view: t.view, read: false };
    const intents = t.intents;
    // A read already under way serves only if it started after the same intents: one begun before a stop
    // (a worker's report asked for it) would otherwise hand back a view that still accepts requests.
    if (t.loading === null || t.loading.intents !== intents) {
      const view = o.directory(id).finally(() => {
        if (t.loading?.view === view) t.loading = null;
      });
      t.loading = { intents, view };
    }
    const v = await t.loading.view;
    // A stop or start arrived while the store was read: that read may predate it (a closed endpoint
    // would take requests again), so it is dropped and the view asked for anew.
    if (t.intents !== intents) continue;
    t.view = v;
    t.viewAt = o.now();
    return { view: v, read: true };
  }
}

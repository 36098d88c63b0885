/** The setting that holds when endpoints got signing keys of their own (written by migration 0039). */
export const ROUTE_KEYS_SINCE = 'route_keys_since';

/**
 * The endpoint whose key signs hand-outs to a worker, or null for the server's key. A worker is given its
 * endpoint's report address and key at every start since `since`: one created since is signed for with its
 * endpoint's key wherever it reports (reporting to /worker_status/ itself must not earn grants of the server's
 * key, which open the workers started before); one created before, with the server's key until it reports
 * through its endpoint's address (`keyed`: a restart gave it one).
 */
export function routeSigner(w: { readonly endpointId: number; readonly createdAt: number }, keyed: boolean, since: number): number | null {
  return keyed || w.createdAt >= since ? w.endpointId : null;
}

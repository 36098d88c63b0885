/**
 * The setting that holds the last instance id made before endpoints got signing keys of their own (written by
 * migration 0039). Ids, not times: a clock that differs between replicas, or is ahead at the upgrade, cannot move
 * a worker to the wrong side.
 */
export const ROUTE_KEYS_AFTER_INSTANCE = 'route_keys_after_instance';

/**
 * The endpoint whose key signs hand-outs to a worker, or null for the server's key. A worker is given its
 * endpoint's report address and key at every start since the upgrade: one made since (`id` past `lastOld`) is
 * signed for with its endpoint's key wherever it reports (reporting to /worker_status/ itself must not earn grants
 * of the server's key, which open the workers started before); one made before, with the server's key until it
 * reports through its endpoint's address (`keyed`: a restart gave it one).
 */
export function routeSigner(w: { readonly endpointId: number; readonly id: number }, keyed: boolean, lastOld: number): number | null {
  return keyed || w.id > lastOld ? w.endpointId : null;
}

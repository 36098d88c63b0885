import type { Logger } from 'pino';
import { vastPlacement } from '../api/dialects/vast/offers.js';
import { isGantryError } from '../domain/errors.js';
import { DEFAULT_PLACEMENT } from '../domain/offer/search.js';
import type { Store } from '../store/store.js';

/**
 * Data the schema migrations cannot convert alone, because only a dialect can read it: workergroups
 * from before typed placements kept Vast query text, which the Vast dialect compiles here. Idempotent;
 * every replica may run it at start.
 */
export async function upgradeStoredData(store: Store, log: Logger): Promise<void> {
  for (const { id, searchText } of await store.legacyWorkergroupSearches()) {
    let placement = DEFAULT_PLACEMENT;
    try {
      placement = vastPlacement(searchText);
    } catch (err) {
      if (!isGantryError(err)) throw err;
      log.warn({ workergroupId: id, searchText, err: err.message }, 'stored search text does not parse; the default placement is used');
    }
    await store.updateWorkergroup(id, { placement });
  }
}

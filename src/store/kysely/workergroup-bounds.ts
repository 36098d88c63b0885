import { GantryError } from '../../domain/errors.js';
import { countRows, type AccountBound } from './account-bound.js';

/** The workergroups one account holds, those of its deployments included. */
export function accountWorkergroups(accountId: number, max: number): AccountBound {
  return {
    accountId,
    max,
    // Those of an endpoint being deleted count until it is gone (its workers are being destroyed); the delete pass removes them then.
    count: (q) =>
      countRows(
        q
          .selectFrom('workergroups')
          .innerJoin('endpoints', 'endpoints.id', 'workergroups.endpoint_id')
          .where('workergroups.account_id', '=', accountId)
          .where('workergroups.deleted_at', 'is', null)
          .where('endpoints.status', '!=', 'deleted'),
      ),
    refuse: (m) =>
      new GantryError(
        'WORKERGROUP_LIMIT',
        `An account holds at most ${m} workergroups, those of its deployments included (those of an endpoint being deleted count until it is gone); delete one first.`,
        { limit: m },
      ),
  };
}

/** The workergroups of one endpoint (`except`: the one moving there, already counted if it is there). */
export function endpointWorkergroups(accountId: number, endpointId: number, max: number, except: number | null): AccountBound {
  return {
    accountId,
    max,
    count: (q) => {
      const live = q.selectFrom('workergroups').where('endpoint_id', '=', endpointId).where('deleted_at', 'is', null);
      return countRows(except === null ? live : live.where('id', '!=', except));
    },
    refuse: (m) =>
      new GantryError('WORKERGROUP_LIMIT', `An endpoint holds at most ${m} workergroups; delete one of endpoint ${endpointId}'s first.`, {
        limit: m,
        endpointId,
      }),
  };
}

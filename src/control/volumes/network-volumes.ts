import type { Action } from '../../domain/account/actions.js';
import { GantryError } from '../../domain/errors.js';
import { authorize, type Principal } from '../principal.js';

export type NetworkStorageVerb = 'search' | 'create' | 'list' | 'unlist' | 'add-disk' | 'show-disks';

const ACTION: Readonly<Record<NetworkStorageVerb, Action>> = {
  search: 'offer.search',
  create: 'volume.write',
  list: 'machine.write',
  unlist: 'machine.write',
  'add-disk': 'machine.write',
  'show-disks': 'machine.read',
};

/**
 * Network volumes and network disks: a refusal that says why (docs/decisions/009-network-volumes.md). A network
 * volume is storage several machines reach at once; Gantry manages each machine's own disk only, and has no
 * way to know that a folder on two hosts is one shared disk. The check of the key's permission comes first, as
 * for every call.
 */
export function refuseNetworkStorage(p: Principal, verb: NetworkStorageVerb): never {
  authorize(p, ACTION[verb]);
  throw new GantryError(
    'NETWORK_VOLUMES_NOT_OFFERED',
    'Gantry offers no network volumes or network disks: it manages each machine\'s own disk and has no storage shared between hosts. Use a local volume ("search volumes", "create volume", "--link-volume") on the machine your instances run on.',
    { verb },
  );
}

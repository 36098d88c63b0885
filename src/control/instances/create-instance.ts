import { validateCreate, type CreateInstanceRequest } from '../../domain/instance/create.js';
import { GantryError } from '../../domain/errors.js';
import { refuseReservedNames } from '../../domain/instance/env.js';
import { chunkSizes, cpuChunkSizes, decodeOfferId, machineShare, rentalPerHour } from '../../domain/offer/offer.js';
import { checkBid } from '../../domain/instance/bids.js';
import type { ControlContext } from '../context.js';
import { requireCredit } from '../billing/billing.js';
import { hashKey, instanceKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import { hostAccepts } from '../../domain/machine/machine.js';
import { volumeForCreate } from '../volumes/volumes.js';
import { checkSnapshotImage } from '../volumes/snapshot.js';

export interface CreatedInstance {
  readonly instance: InstanceRecord;
  /** The instance's own key (CONTAINER_API_KEY): start, stop and destroy of this instance only. */
  readonly instanceApiKey: string;
}

/**
 * Rent an offer. GPUs, ports, the record and the instance key are written in one transaction; the
 * reconciler then starts the workload. Two creates on the same GPUs: one wins, one gets OFFER_UNAVAILABLE.
 */
export async function createInstance(
  ctx: ControlContext,
  p: Principal,
  r: CreateInstanceRequest,
  worker?: { readonly workergroupId: number; readonly endpointId: number },
): Promise<CreatedInstance> {
  authorize(p, 'instance.create');
  // A user's env may not set what Gantry or the runtime sets; a worker's env is its workergroup's, checked when that
  // was written (workergroups.ts buildTemplate) or built by Gantry (ML deployments' GANTRY_* settings).
  if (worker === undefined) refuseReservedNames(r.env.env, 'instance');
  // A host's engine is shared: another account's snapshot image is not this caller's to run.
  await checkSnapshotImage(ctx, p, r.image);
  await requireCredit(ctx, p);
  const { machineId, numGpus: size } = decodeOfferId(r.offerId);
  const m = await ctx.store.getMachine(machineId, ctx.clock.now());
  // On a machine without GPUs the id names vCPUs (0: one, the id of the single CPU offer before chunks).
  const cpuChunk = m !== undefined && m.numGpus === 0 ? Math.max(1, size) : null;
  const numGpus = cpuChunk === null ? size : 0;
  const sizes = m === undefined ? [] : cpuChunk !== null ? cpuChunkSizes(m.cpuCores, m.cpuCores) : chunkSizes(m.numGpus, m.minChunk, m.numGpus);
  if (!m || !m.listed || !sizes.includes(cpuChunk ?? numGpus)) {
    throw new GantryError('OFFER_NOT_FOUND', `No offer with id ${r.offerId}; search offers for current ids.`, { offerId: r.offerId });
  }
  if (!m.online) throw new GantryError('MACHINE_UNAVAILABLE', `Machine ${m.id} is offline; pick another offer.`, { machineId: m.id });
  if (!hostAccepts(m, p.accountId)) {
    throw new GantryError(
      'HOST_NOT_ISOLATED',
      `Machine ${m.id} runs workloads without isolation from each other and from the host, so it takes only its owner's instances; pick another offer.`,
      { machineId: m.id },
    );
  }
  const { runtype } = validateCreate(r, m.diskSpaceGb);
  const rental = cpuChunk ?? numGpus;
  if (r.offerType === 'bid' && r.bidPrice !== null) checkBid(r.bidPrice, rentalPerHour(m, rental, 'bid'), m.id);
  const dphBase = r.offerType === 'bid' && r.bidPrice !== null ? r.bidPrice : rentalPerHour(m, rental, r.offerType);
  const share = machineShare(m, rental);
  // Vast's volume_info: the volume (made now from an offer, if asked) is linked in the create transaction.
  const volume = r.volume != null ? await volumeForCreate(ctx, p, r.volume, machineId) : null;
  const creating = ctx.store.createInstance({
    accountId: p.accountId,
    machineId,
    numGpus,
    image: r.image,
    env: r.env.env,
    requestedPorts: r.env.ports,
    // Ports another program holds on that host (its agent probes them): a workload could not bind them. The
    // replica its agent talks to knows them at once; any other reads what that replica stored.
    busyPorts: ctx.hosts.get(machineId)?.busyPorts ?? new Set(m.busyPorts ?? []),
    // Every instance gets SSH access (served by the host's agent): ssh-url, scp-url, execute and copy ride on it.
    sshPort: true,
    // As on Vast, a new instance takes the account's SSH keys (`detach ssh` removes one from it later).
    attachAccountSshKeys: true,
    onstart: r.onstart,
    entrypoint: r.entrypoint,
    args: r.args,
    runtype,
    label: r.label,
    diskGb: r.diskGb,
    offerType: r.offerType,
    bidPrice: r.bidPrice,
    dphBase,
    storageCost: m.priceDiskPerGbMonth,
    // Its part of the machine's vCPUs and RAM, held like its GPUs (a create that does not fit is refused).
    // Rounded down, so the shares of all GPUs of a machine never add up to more than it has.
    cpuCores: Math.floor(m.cpuCores * share * 100) / 100,
    ramMb: Math.floor(m.cpuRamMb * share),
    target: r.targetState,
    instanceKeyHash: (id) => hashKey(instanceKey(ctx.secret, id)),
    ...(worker !== undefined ? { worker } : {}),
    ...(volume !== null ? { volumes: volume.mounts } : {}),
    ...(r.template != null ? { template: r.template } : {}),
    now: ctx.clock.now(),
  });
  const instance = await creating.catch(async (err: unknown) => {
    await volume?.undo();
    throw err;
  });
  ctx.log.info({ instanceId: instance.id, machineId, numGpus, target: r.targetState }, 'instance created');
  ctx.wake();
  return { instance, instanceApiKey: instanceKey(ctx.secret, instance.id) };
}

import { NO_BLOBS, type BlobStore } from '../store/blob-store.js';
import type { InstanceAction } from '../domain/instance/intent.js';
import type { CreateInstanceRequest } from '../domain/instance/create.js';
import { DEFAULT_ALLOCATED_STORAGE_GB, type OfferSearch } from '../domain/offer/search.js';
import { authenticate, currentAccount } from './accounts/authenticate.js';
import { PrincipalCache } from './accounts/principal-cache.js';
import { bootstrapAdmin } from './accounts/bootstrap-admin.js';
import { bulkChangeInstances, changeInstance } from './instances/change-instance.js';
import { stopWorkloads } from './serverless/stop-workloads.js';
import type { ControlContext } from './context.js';
import { createInstance } from './instances/create-instance.js';
import { labelInstance } from './instances/label-instance.js';
import * as bids from './instances/bid-instance.js';
import { MachineCatalog } from './fleet/machine-catalog.js';
import { OffersIndex } from './fleet/offers-index.js';
import { Housekeeping } from './loops/housekeeping.js';
import { InstanceReconciler } from './loops/instance-reconciler.js';
import { ServerlessLoop } from './loops/serverless-loop.js';
import { EndpointSignal } from './serverless/endpoint-signal.js';
import { serverlessUseCases, type ServerlessUseCases } from './serverless/use-cases.js';
import type { Principal } from './principal.js';
import { accountUseCases, type AccountUseCases } from './accounts/use-cases.js';
import { catalogUseCases, type CatalogUseCases } from './catalog/use-cases.js';
import { mlUseCases, type MlUseCases } from './ml/use-cases.js';
import { volumeUseCases, type VolumeUseCases } from './volumes/use-cases.js';
import { resealSecrets } from './accounts/secrets.js';
import { followSshKeys, syncSshKeys } from './accounts/ssh-keys.js';
import { BillingLoop } from './loops/billing-loop.js';
import { Sampler } from './loops/sampler.js';
import { listInstances, readAccountViews, readInstanceView, showInstance } from './instances/read-instances.js';
import { InstanceViewCache } from './instances/instance-view-cache.js';
import { AgentHub } from './hosts/agent-hub.js';
import { createHostToken } from './hosts/host-tokens.js';
import * as machines from './fleet/manage-machines.js';
import type { ListingRequest } from '../domain/machine/listing.js';
import { fetchResult, LOG_HOST_CALLS, requestLogs } from './instances/request-logs.js';
import { followHostCalls } from './host-calls.js';
import { FailureLog } from './failure-log.js';
import { LINK_HOST_CALLS } from './reach-host.js';
import { cancelCopies, copyData, executeCommand, refuseCloudCopy } from './instances/instance-commands.js';
import { copyHostCalls, failCopiesOfEndedSessions } from './instances/instance-copy.js';
import { searchOffers } from './fleet/search-offers.js';
import { verifyMachine } from './fleet/verify-machine.js';
import { hostUseCases, type HostUseCases } from './fleet/host-use-cases.js';
import type { AccountRecord } from '../domain/account/records.js';
import type { MachineRecord } from '../domain/machine/machine.js';
import { templateUseCases, type TemplateUseCases } from './instances/template-use-cases.js';

/**
 * The engine every API dialect calls: use cases bound to one context, plus the loops.
 * Dialects translate shapes to and from these calls and never decide a transition themselves.
 */
export class ControlPlane {
  readonly ctx: ControlContext;
  readonly reconciler: InstanceReconciler;
  readonly housekeeping: Housekeeping;
  /** The agent protocol's control side; its sessions are this replica's links to remote hosts. */
  readonly agents: AgentHub;
  /** Endpoints, workergroups, deployments, routing; and the loop that scales and stops them. */
  readonly serverless: ServerlessUseCases;
  readonly serverlessLoop: ServerlessLoop;
  /** Users, keys, teams, secrets, SSH keys, audit and billing. */
  readonly accounts: AccountUseCases;
  readonly billingLoop: BillingLoop;
  /** The console's time series (spend, GPU utilisation, requests per second, queue depth). */
  readonly sampler: Sampler;
  /** AI Core's catalog: serving templates, applications, scenarios, executables, configurations, artifacts. */
  readonly catalog: CatalogUseCases;
  /** Trained models (config, definition parts, vocabulary) and ingest pipelines: the Elasticsearch dialect's resources. */
  readonly ml: MlUseCases;
  /** Host verbs beyond listing: one machine, maintenances, reports, defrag, market metrics, and the refused ones. */
  readonly hosts: HostUseCases;
  /** Vast templates, and launch, bulk create and update of instances from them. */
  readonly templates: TemplateUseCases;
  /** Volumes, volume offers, snapshots and machine cleanup. */
  readonly volumes: VolumeUseCases;

  constructor(
    ctx: Omit<
      ControlContext,
      'wake' | 'machines' | 'offers' | 'endpointSignal' | 'principals' | 'instanceViews' | 'blobs' | 'servingSince' | 'databaseUnavailable'
    > & {
      readonly machines?: MachineCatalog;
      /** Default: none (code deployments answer BLOB_STORE_UNAVAILABLE). */
      readonly blobs?: BlobStore;
      /** Default: from when this is made (a server passes the moment it listens). */
      readonly servingSince?: () => number;
    },
  ) {
    const made = ctx.clock.now();
    const serving = ctx.servingSince ?? (() => made);
    const principals = new PrincipalCache({
      maxEntries: ctx.settings.principalCacheEntries,
      maxAgeMs: ctx.settings.principalCacheMaxAgeMs,
      now: () => ctx.clock.now(),
    });
    // For as long as the store lives (its feed drops listeners when it closes): a cache that stopped
    // following would keep revoked keys working.
    principals.follow(ctx.store.changes);
    const instanceViews = new InstanceViewCache({
      build: (accountId) => readAccountViews(this.ctx, accountId),
      now: () => ctx.clock.now(),
      maxAgeMs: ctx.settings.machineCacheMs,
      maxEntries: ctx.settings.principalCacheEntries,
    });
    // For as long as the store lives, like the principals: a listing that stopped following would go stale.
    instanceViews.follow(ctx.store);
    const offerReads = new FailureLog(ctx.log, 'offers index: reading the fleet', FailureLog.timing(ctx));
    this.ctx = {
      ...ctx,
      servingSince: () => Math.max(serving(), this.#databaseLostAt),
      databaseUnavailable: () => {
        this.#databaseLostAt = ctx.clock.now();
      },
      principals,
      instanceViews,
      machines: ctx.machines ?? new MachineCatalog(ctx.store, ctx.clock, ctx.settings.machineCacheMs),
      blobs: ctx.blobs ?? NO_BLOBS,
      offers: new OffersIndex(ctx.store, ctx.clock, {
        seenSyncMs: ctx.settings.machineCacheMs,
        rebuildMs: ctx.settings.offersIndexRebuildMs,
        // While the database is away: one line, then one a minute, then "works again" (failure-log.ts).
        onError: (err) => offerReads.failed(err),
        onRead: () => offerReads.succeeded(),
      }),
      // Intents reach this replica's loops through the change feed, and the other replicas' loops too.
      wake: (id) => ctx.store.changes.publish('instance', id ?? null),
      endpointSignal: new EndpointSignal(
        (id) => ctx.store.changes.publish('endpoint', id),
        (id) => ctx.store.wakeEndpoint(id),
      ),
    };
    this.reconciler = new InstanceReconciler(this.ctx);
    this.housekeeping = new Housekeeping(this.ctx);
    this.agents = new AgentHub(this.ctx, async (machineId) => {
      await Promise.all([syncSshKeys(this.ctx, machineId), failCopiesOfEndedSessions(this.ctx, machineId)]);
    });
    this.serverless = serverlessUseCases(this.ctx);
    this.serverlessLoop = new ServerlessLoop(this.ctx);
    this.accounts = accountUseCases(this.ctx);
    this.billingLoop = new BillingLoop(this.ctx);
    this.sampler = new Sampler(this.ctx);
    this.catalog = catalogUseCases(this.ctx);
    this.ml = mlUseCases(this.ctx);
    this.hosts = hostUseCases(this.ctx);
    this.templates = templateUseCases(this.ctx);
    this.volumes = volumeUseCases(this.ctx);
  }

  #unfollowSshKeys: (() => void) | null = null;
  #unfollowHostCalls: (() => void) | null = null;
  /** When a loop last found the database unavailable (ctx.databaseUnavailable). */
  #databaseLostAt = -Infinity;

  startLoops(): void {
    this.#unfollowSshKeys ??= followSshKeys(this.ctx);
    this.#unfollowHostCalls ??= followHostCalls(this.ctx, { ...LOG_HOST_CALLS, ...LINK_HOST_CALLS, ...copyHostCalls(this.ctx) });
    this.reconciler.start();
    this.housekeeping.start();
    this.serverlessLoop.start();
    this.billingLoop.start();
    this.sampler.start();
    // A large fleet takes seconds to index: done now rather than inside the first search.
    void this.ctx.offers
      .warm('on-demand', DEFAULT_ALLOCATED_STORAGE_GB)
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'indexing offers failed; the first search tries again'));
    // Secrets still sealed with an older key (after a rotation) are sealed again with the newest.
    void resealSecrets(this.ctx)
      .then((n) => n > 0 && this.ctx.log.info({ resealed: n }, 'secrets re-sealed with the newest key'))
      .catch((err: unknown) => this.ctx.log.error({ err }, 're-sealing secrets failed'));
  }

  async stopLoops(): Promise<void> {
    this.#unfollowSshKeys?.();
    this.#unfollowHostCalls?.();
    this.#unfollowSshKeys = this.#unfollowHostCalls = null;
    this.agents.close();
    this.ctx.offers.close();
    await Promise.all([this.reconciler.stop(), this.housekeeping.stop(), this.serverlessLoop.stop(), this.billingLoop.stop(), this.sampler.stop()]);
  }

  wake(instanceId?: number): void {
    this.ctx.wake(instanceId);
  }

  now(): number {
    return this.ctx.clock.now();
  }

  authenticate = (key: string | null): Promise<Principal> => authenticate(this.ctx, key);
  bootstrapAdmin = (presetKey: string | null, makeKey?: () => Promise<string>): ReturnType<typeof bootstrapAdmin> =>
    bootstrapAdmin(this.ctx, presetKey, makeKey);
  createHostToken = (p: Principal, name: string | null): ReturnType<typeof createHostToken> => createHostToken(this.ctx, p, name);
  searchOffers = (p: Principal, q: OfferSearch): ReturnType<typeof searchOffers> => searchOffers(this.ctx, p, q);
  createInstance = (p: Principal, r: CreateInstanceRequest): ReturnType<typeof createInstance> => createInstance(this.ctx, p, r);
  showInstance = (p: Principal, id: number): ReturnType<typeof showInstance> => showInstance(this.ctx, p, id);
  listInstances = (p: Principal): ReturnType<typeof listInstances> => listInstances(this.ctx, p);
  /** One instance's view for any reader, unauthorized: the console's push channel checks each reader. */
  instanceView = (id: number): ReturnType<typeof readInstanceView> => readInstanceView(this.ctx, id);
  changeInstance = (p: Principal, id: number, action: InstanceAction): ReturnType<typeof changeInstance> => changeInstance(this.ctx, p, id, action);
  bulkChangeInstances = (p: Principal, ids: readonly number[], action: InstanceAction): ReturnType<typeof bulkChangeInstances> =>
    bulkChangeInstances(this.ctx, p, ids, action);
  /** Admin only: stop every endpoint and instance of every account and wait, bounded, until each is at rest (`gantry down --workloads`). */
  stopWorkloads = (p: Principal, timeoutMs: number): ReturnType<typeof stopWorkloads> => stopWorkloads(this.ctx, p, { timeoutMs });
  labelInstance = (p: Principal, id: number, label: string | null, o: { checkOnly?: boolean } = {}): Promise<void> => labelInstance(this.ctx, p, id, label, o);
  requestLogs = (p: Principal, id: number, o: { tail: number | null; filter: string | null }): ReturnType<typeof requestLogs> =>
    requestLogs(this.ctx, p, id, o);
  fetchResult = (token: string): Promise<string> => fetchResult(this.ctx, token);
  /** Commands and copies over an instance's SSH access (instance-commands.ts). */
  executeCommand = (p: Principal, id: number, command: unknown): ReturnType<typeof executeCommand> => executeCommand(this.ctx, p, id, command);
  copyData = (p: Principal, body: Parameters<typeof copyData>[2]): ReturnType<typeof copyData> => copyData(this.ctx, p, body);
  cancelCopies = (p: Principal, dst: unknown): Promise<string> => cancelCopies(this.ctx, p, dst);
  refuseCloudCopy = (p: Principal, instance: unknown): Promise<never> => refuseCloudCopy(this.ctx, p, instance);
  verifyMachine = (p: Principal, machineId: number, verified: boolean): Promise<void> => verifyMachine(this.ctx, p, machineId, verified);
  listMachines = (): Promise<MachineRecord[]> => this.ctx.machines.list();
  listOwnMachines = (p: Principal, userId: number | null): Promise<MachineRecord[]> => machines.listOwnMachines(this.ctx, p, userId);
  listMachine = (p: Principal, id: number, l: ListingRequest): ReturnType<typeof machines.listMachine> => machines.listMachine(this.ctx, p, id, l);
  unlistMachine = (p: Principal, id: number): Promise<MachineRecord> => machines.unlistMachine(this.ctx, p, id);
  setMinBid = (p: Principal, id: number, price: number): Promise<void> => machines.setMinBid(this.ctx, p, id, price);
  scheduleMaintenance = (p: Principal, id: number, w: Parameters<typeof machines.scheduleMaintenance>[3]): ReturnType<typeof machines.scheduleMaintenance> =>
    machines.scheduleMaintenance(this.ctx, p, id, w);
  cancelMaintenance = (p: Principal, id: number): ReturnType<typeof machines.cancelMaintenance> => machines.cancelMaintenance(this.ctx, p, id);
  currentAccount = (p: Principal): Promise<AccountRecord> => currentAccount(this.ctx, p);
  // Bids and reserved instances (instances/bid-instance.ts).
  changeBid = (p: Principal, id: number, price: number | null): ReturnType<typeof bids.changeBid> => bids.changeBid(this.ctx, p, id, price);
  prepayInstance = (p: Principal, id: number, amount: number | null): ReturnType<typeof bids.prepayInstance> => bids.prepayInstance(this.ctx, p, id, amount);
  showDeposit = (p: Principal, id: number): ReturnType<typeof bids.showDeposit> => bids.showDeposit(this.ctx, p, id);
}

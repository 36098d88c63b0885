import type { OfferSourceStore } from './offer-source-store.js';
import type { InstanceRecord, InstanceTemplate } from '../domain/instance/instance.js';
import type { HostTokenRecord, MachineRecord, MachineRegistration, UsageReport } from '../domain/machine/machine.js';
import type { ListingRequest } from '../domain/machine/listing.js';
import type { InstanceStatus, InstanceTarget, PendingOp } from '../domain/instance/status.js';
import type { ServerlessStore } from './serverless-store.js';
import type { BillingStore } from './billing-store.js';
import type { TenantStore } from './tenant-store.js';
import type { CatalogStore } from './catalog-store.js';
import type { MlStore } from './ml-store.js';
import type { TemplateStore } from './template-store.js';
import type { VolumeStore } from './volume-store.js';
import type { VolumeMount } from '../domain/volume/volume.js';
import type { ChangeFeed } from './change-feed.js';
import type { HostSweepStore } from './host-sweep-store.js';
import type { SeriesStore } from './series-store.js';

/**
 * The store port. Control code talks to this interface only; `kysely/` implements it for SQLite
 * and PostgreSQL, and `test/contract/store.contract.ts` holds both to the same behaviour.
 */

/** What `list machine` (create_asks) sets; absent fields keep their stored value. */
export type ListingWrite = ListingRequest;

/** What a create writes; GPUs, ports, generation and status are the store's to assign. */
export type NewInstance = Pick<
  InstanceRecord,
  | 'accountId'
  | 'machineId'
  | 'numGpus'
  | 'image'
  | 'env'
  | 'requestedPorts'
  | 'onstart'
  | 'entrypoint'
  | 'args'
  | 'runtype'
  | 'label'
  | 'diskGb'
  | 'offerType'
  | 'bidPrice'
  | 'dphBase'
  | 'storageCost'
> & {
  readonly target: 'running' | 'stopped';
  /** Hash of the instance's own API key (CONTAINER_API_KEY), stored in the same transaction. */
  readonly instanceKeyHash: (instanceId: number) => string;
  readonly worker?: { readonly workergroupId: number; readonly endpointId: number };
  /** Host ports the machine's agent found in use by something else: never handed out. */
  readonly busyPorts?: ReadonlySet<number>;
  /** vCPUs and RAM (MB) to hold while it holds compute; the create is refused when they do not fit. */
  readonly cpuCores?: number;
  readonly ramMb?: number;
  /** Volumes linked into the instance in its create transaction. */
  readonly volumes?: readonly VolumeMount[];
  /** Allocate one more port for the instance's SSH access (stored as proto `ssh`, never given to the workload). */
  readonly sshPort?: boolean;
  /** Attach the account's SSH keys to the new instance in the same transaction (before its first start). */
  readonly attachAccountSshKeys?: boolean;
  /** The template it is made from (Vast's template_id, template_hash_id, template_name). */
  readonly template?: InstanceTemplate;
  readonly now: number;
};

export interface IntentWrite {
  readonly target: InstanceTarget;
  readonly pendingOp: PendingOp;
  /** Re-acquire the instance's own GPUs in the same transaction (start from stopped). */
  readonly acquireGpus: boolean;
  readonly statusMsg?: string | null;
  readonly now: number;
}

/** Truth from one reconcile pass, applied only while the pass still holds the row's lease. */
export interface ObservationWrite {
  readonly status: InstanceStatus;
  readonly statusMsg: string | null;
  readonly exitCode: number | null;
  /** The generation the pass acted on; never lowers the stored one. */
  readonly observedGeneration: number;
  readonly pendingOpDone: boolean;
  readonly startDate?: number | null;
  readonly now: number;
}

export interface ClaimOptions {
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  /** Unsettled rows (UNSETTLED_STATUSES) with nothing pending are re-observed when last processed before this time; settled ones are the host sweep's. */
  readonly observeBefore: number;
  readonly limit: number;
  readonly machineIds?: readonly number[];
  /** Rows to look at now although not due (a workload just exited): hints, still subject to leases. */
  readonly dueIds?: readonly number[];
  /** Claim only `dueIds` (the reconciler records many handed-over rows together), no other due row. */
  readonly onlyDue?: boolean;
}

/** What `deleteMachine` did: deleted (with the instances and volumes that ended with it), or nothing and why. */
export type MachineDeletion =
  | { readonly deleted: true; readonly destroyedIds: readonly number[]; readonly volumeIds: readonly number[] }
  | { readonly deleted: false; readonly instanceIds: readonly number[]; readonly volumeIds: readonly number[] };

export interface InstanceListOptions {
  readonly accountId: number | null;
  readonly includeDestroyed?: boolean;
}

export interface Store
  extends
    ServerlessStore,
    TenantStore,
    BillingStore,
    CatalogStore,
    MlStore,
    TemplateStore,
    VolumeStore,
    ResultStore,
    OfferSourceStore,
    HostSweepStore,
    SeriesStore {
  readonly name: 'sqlite' | 'postgres';
  /** What changed, told to this replica's parts and to the other replicas on the same database. */
  readonly changes: ChangeFeed;
  /** A host silent longer than this is not `online` (judged when a machine is read). */
  readonly machineOnlineWindowMs: number;
  /**
   * Call `f` whenever a statement this process ran (or the transaction holding it, at its commit) may have
   * changed what an instance listing shows: instance rows (not leases or meters), ports, GPUs, volume links.
   * Returns the function that stops listening. Other replicas' writes are not heard here.
   */
  onShownInstancesWrite(f: () => void): () => void;
  migrate(): Promise<void>;
  close(): Promise<void>;

  /**
   * Insert or refresh the machine of `m.hostKey`. FORBIDDEN, with nothing written, when that key is another
   * account's machine or a deleted one's (its key renamed), or when `bindToken` (an unbound host token, bound
   * to the machine in the same transaction) was bound to another machine meanwhile: one token, one machine.
   */
  registerMachine(m: MachineRegistration, now: number, o?: { readonly bindToken?: number }): Promise<MachineRecord>;
  /**
   * `online` is judged at `now` from the host's last heartbeat. A deleted machine is undefined unless
   * `includeDeleted` (history: an instance that ran on it still shows its host).
   */
  getMachine(id: number, now: number, o?: { includeDeleted?: boolean }): Promise<MachineRecord | undefined>;
  /** Machines not deleted. */
  listMachines(now: number): Promise<MachineRecord[]>;
  /** The machine (not deleted) registered by this host. */
  findMachineByHostKey(hostKey: string, now: number): Promise<MachineRecord | undefined>;
  /**
   * `delete machine`, all or nothing: nothing changes while other accounts' instances (not destroyed, no
   * destroy pending) or live volumes are on it (named in the answer). Otherwise the row stays for history,
   * hidden from listings and placement; its host key is freed, its host tokens and volume offer revoked; the
   * owner's instances and pending destroys become tombstones with `note` (meters closed, deposits refunded)
   * and the owner's volumes are deleted. MACHINE_NOT_FOUND when absent or deleted already.
   */
  deleteMachine(id: number, now: number, note: string): Promise<MachineDeletion>;
  setMachineVerified(id: number, verified: boolean): Promise<void>;
  touchMachine(id: number, now: number): Promise<void>;
  /** Liveness of many machines in one statement (heartbeats that brought nothing else: decision 021); never moves it back. */
  touchMachines(ids: readonly number[], now: number): Promise<void>;
  /** Heartbeat: last_seen_at, machine GPU utilisation and per-instance usage (only instances on this machine are written). */
  /** `busyPorts`, when given, replaces the machine's stored list (an agent reports it only when it changed). */
  recordHeartbeat(
    machineId: number,
    h: { now: number; gpuUtils: readonly number[] | null; usage: readonly UsageReport[]; busyPorts?: readonly number[] },
  ): Promise<void>;
  usageOf(instanceIds: readonly number[]): Promise<Map<number, UsageReport & { updatedAt: number }>>;
  setListing(machineId: number, l: ListingWrite & { listed: boolean }): Promise<void>;
  setMaintenance(machineId: number, w: { start: number; end: number; reason: string | null } | null): Promise<void>;
  /**
   * Instances on machines silent since before `silentSince` that are not yet marked: status `unknown` with
   * `msg`, unless a reconciler holds their lease. Returns the ids marked.
   */
  markInstancesOfSilentMachines(silentSince: number, msg: string, now: number): Promise<number[]>;

  /** `maxLive` (0: none) bounds the account's live tokens, counted and inserted in one transaction: HOST_TOKEN_LIMIT past it. */
  createHostToken(t: { accountId: number; tokenHash: string; name: string; now: number; maxLive?: number }): Promise<HostTokenRecord>;
  /** The token with this hash, revoked ones too (`revokedAt`): a refusal can then say why. */
  findHostTokenByHash(tokenHash: string): Promise<HostTokenRecord | undefined>;
  /** Bind an unbound token to a machine; false when it was bound (to any machine) already. */
  bindHostToken(id: number, machineId: number): Promise<boolean>;

  /**
   * Change an interruptible instance's bid: meters are settled at the old price first, then placement runs
   * again (a higher bid may win GPUs, a lower one may lose them). Returns the instance after the change.
   */
  changeBid(id: number, price: number, now: number): Promise<InstanceRecord>;
  /** Move `amount` of the account's credit into the instance's deposit; INSUFFICIENT_CREDIT when short. */
  prepayInstance(id: number, amount: number, discount: number, now: number): Promise<InstanceRecord>;

  /** Insert the instance with its GPUs and ports in one transaction; OFFER_UNAVAILABLE / PORTS_EXHAUSTED on conflict. */
  createInstance(n: NewInstance): Promise<InstanceRecord>;
  getInstance(id: number): Promise<InstanceRecord | undefined>;
  listInstances(o: InstanceListOptions): Promise<InstanceRecord[]>;
  /** Compare-and-set on generation; false when another writer moved it first. GPUS_UNAVAILABLE if acquireGpus fails. */
  writeIntent(id: number, expectedGeneration: number, w: IntentWrite): Promise<boolean>;
  setLabel(id: number, label: string | null): Promise<void>;
  /** Whether it was written; `onlyOver`: only while the message is still this one (a compare-and-set). */
  setStatusMsg(id: number, msg: string | null, onlyOver?: string): Promise<boolean>;
  /** Running instances whose status_msg matches a LIKE pattern, with the message. */
  runningWithStatusMsg(like: string): Promise<{ readonly id: number; readonly statusMsg: string }[]>;
  /** Stamp due rows (hinted, pending intent, or unsettled and not observed lately) with a fresh lease and return them. */
  claimInstances(o: ClaimOptions): Promise<InstanceRecord[]>;
  extendLeases(owner: string, ids: readonly number[], until: number): Promise<void>;
  applyObservation(id: number, leaseToken: string, o: ObservationWrite): Promise<boolean>;
  /** `applyObservation` for many rows claimed together (one lease token), in a few statements; true per row applied. */
  applyObservations(leaseToken: string, rows: readonly { readonly id: number; readonly write: ObservationWrite }[]): Promise<boolean[]>;
  releaseLease(id: number, leaseToken: string, now: number): Promise<void>;
  /** Instances of one machine that should have a workload (for the orphan sweep). */
  liveInstanceIds(machineId: number): Promise<Set<number>>;
}

/** Short-lived results fetched by an unguessable token (log downloads, `execute` output). */
export interface ResultStore {
  putResult(token: string, content: string, expiresAt: number): Promise<void>;
  getResult(token: string, now: number): Promise<string | undefined>;
  /**
   * The result is the account's: of its results, the `keep` that expire last stay, older ones are deleted
   * (0: no bound). A result may be written by another replica (host-calls.ts), so it is owned once written.
   */
  ownResult(token: string, accountId: number, keep: number): Promise<void>;
  /** Remove the results of these tokens; the first unexpired one, if any (an answer read once). */
  takeResult(tokens: readonly string[], now: number): Promise<{ token: string; content: string } | undefined>;
  purgeResults(now: number): Promise<void>;
  /** A call for the replica that holds the machine's agent session; its answer comes back as the result `token`. */
  requestHostCall(c: HostCall): Promise<void>;
  /** Take (remove) the unexpired calls for these machines; each is taken once, by one replica. */
  takeHostCalls(machineIds: readonly number[], now: number): Promise<HostCall[]>;
  /** Remove a call nobody took yet; false when a replica already took it (it runs, its answer comes). */
  withdrawHostCall(token: string): Promise<boolean>;
}

/** A call only the replica that holds a host's agent session can make (`src/control/host-calls.ts`). */
export interface HostCall {
  readonly token: string;
  readonly machineId: number;
  readonly op: string;
  /** The op's arguments, as JSON. */
  readonly args: string;
  readonly expiresAt: number;
}

import type { PortSpec } from './env.js';
import type { InstanceStatus, InstanceTarget, PendingOp } from './status.js';
import type { OfferType } from '../offer/offer.js';

export interface PortBinding {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly proto: 'tcp' | 'udp';
}

/** The Vast template an instance was made (or last updated) from, as the template was then; its name may be null. */
export interface InstanceTemplate {
  readonly id: number;
  readonly hashId: string;
  readonly name: string | null;
}

export interface InstanceRecord {
  readonly id: number;
  readonly accountId: number;
  readonly machineId: number;
  readonly numGpus: number;
  readonly gpuIndices: readonly number[];
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  readonly requestedPorts: readonly PortSpec[];
  readonly ports: readonly PortBinding[];
  /** Host port of the instance's SSH access (the agent serves it; shown as port 22), or null (made before SSH access existed). */
  readonly sshPort: number | null;
  readonly onstart: string | null;
  readonly entrypoint: string | null;
  readonly args: readonly string[] | null;
  readonly runtype: string;
  readonly label: string | null;
  readonly diskGb: number;
  readonly offerType: OfferType;
  readonly bidPrice: number | null;
  readonly dphBase: number;
  readonly storageCost: number;
  readonly createdAt: number;
  readonly target: InstanceTarget;
  readonly generation: number;
  readonly pendingOp: PendingOp;
  readonly status: InstanceStatus;
  readonly observedGeneration: number;
  readonly statusMsg: string | null;
  readonly exitCode: number | null;
  readonly startDate: number | null;
  readonly statusChangedAt: number;
  readonly stopRequestedAt: number | null;
  readonly destroyedAt: number | null;
  readonly lastProcessedAt: number;
  readonly leaseOwner: string | null;
  readonly leaseToken: string | null;
  readonly leaseExpiresAt: number | null;
  /** Set on serverless workers: the workergroup and endpoint this instance works for. */
  readonly workergroupId: number | null;
  readonly endpointId: number | null;
  /** Wants to run but holds no GPUs since then: outbid, or waiting for a preempted bid to stop (bids.ts). */
  readonly gpuWaitSince: number | null;
  /** vCPUs and RAM (MB) it was placed with; null when placed without a size (not counted). */
  readonly cpuCores: number | null;
  readonly ramMb: number | null;
  /** Credit prepaid into it (a reserved instance), $, and the discount that earned (0..1, null: none). */
  readonly deposit: number;
  readonly depositDiscount: number | null;
  /** The template it was made or last updated from; null: none. */
  readonly template: InstanceTemplate | null;
}

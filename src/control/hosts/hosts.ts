import type { Runtime } from '../../runtime/runtime.js';
import type { ObservedWorkload } from '../../domain/instance/sweep.js';
import type { CopyGrant, CopyOrder, CopyReport } from './copy-order.js';

/**
 * What the control plane needs from a host to run instances: every host, the embedded one included,
 * is an agent whose session (`agent-session.ts`) carries these calls over the agent protocol.
 * Every call settles on its own: start, stop, destroy and wipeDisk within stepTimeoutMs (STEP_TIMEOUT
 * when the host took the step and did not finish it), the others within agentCallTimeoutMs, and
 * HOST_UNAVAILABLE whenever the host is gone. Callers add no timers of their own.
 */
export type HostLink = Pick<
  Runtime,
  'imageNotice' | 'start' | 'inspect' | 'stop' | 'destroy' | 'wipeDisk' | 'setSshKeys' | 'logs' | 'logLines' | 'list' | 'storage'
> & {
  /** A command inside an instance through the agent's SSH access (agent-session.ts); absent on hosts that cannot. */
  exec?(instanceId: number, argv: readonly string[], o: { timeoutMs: number; maxBytes: number }): Promise<{ code: number | null; output: string }>;
  /** Copies between instances (copy-order.ts); absent on hosts that cannot. */
  copy?(order: CopyOrder): Promise<CopyReport>;
  copyGrant?(instanceId: number, ttlMs: number): Promise<CopyGrant>;
  cancelCopies?(instanceId: number): Promise<number>;
  /** Every workload with its observation, for the host sweep (agent-session.ts). */
  observeAll?(): Promise<HostListing>;
  /** A listing the agent pushed with a heartbeat that no sweep has compared yet, taken (decision 021); absent or null: none. */
  takePushedListing?(): HostListing | null;
  /** Whether the host sweep should claim this host now (agent-session.ts); absent: whenever it is due by time. */
  sweepWanted?(staleMs: number, routine: boolean): boolean;
  /** False once the agent stopped polling or sending heartbeats. */
  connected?(): boolean;
  close?(reason: string): void;
  /** Ports of the machine's range its agent last found taken by something else (skipped when allocating). */
  readonly busyPorts?: ReadonlySet<number>;
};

/** A host's workloads: their ids, and what each shows when the agent says (null: an agent that answers bare ids). */
export interface HostListing {
  readonly ids: number[];
  readonly observed: ObservedWorkload[] | null;
}

/** Hosts this control-plane process can reach now, by machine id. */
export class HostRegistry {
  readonly #links = new Map<number, HostLink>();

  /** A new link replaces the old one (an agent that said hello again); the old one's calls fail. */
  set(machineId: number, link: HostLink): void {
    const old = this.#links.get(machineId);
    if (old !== undefined && old !== link) old.close?.('the agent reconnected');
    this.#links.set(machineId, link);
  }

  delete(machineId: number, link?: HostLink): void {
    if (link !== undefined && this.#links.get(machineId) !== link) return;
    this.#links.get(machineId)?.close?.('the host left');
    this.#links.delete(machineId);
  }

  /** The link of a reachable host; undefined when none is connected to this replica. */
  get(machineId: number): HostLink | undefined {
    const l = this.#links.get(machineId);
    return l === undefined || (l.connected?.() ?? true) ? l : undefined;
  }

  /** Machines with a connected link. One loop, no intermediate arrays: the reconciler asks at every claim, over every link. */
  machineIds(): number[] {
    const ids: number[] = [];
    for (const [id, l] of this.#links) if (l.connected?.() ?? true) ids.push(id);
    return ids;
  }

  /** Connected machines the host sweep wants now: a host that pushes its listings only once it pushed a new one (decision 021). */
  sweepCandidates(staleMs: number, routine: boolean): number[] {
    const ids: number[] = [];
    for (const [id, l] of this.#links) if ((l.connected?.() ?? true) && (l.sweepWanted?.(staleMs, routine) ?? true)) ids.push(id);
    return ids;
  }
}

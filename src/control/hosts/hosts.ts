import type { Runtime } from '../../runtime/runtime.js';

/**
 * What the control plane needs from a host to run instances. The embedded host passes its
 * runtime straight through; a remote agent's session (`remote-host.ts`) carries the same calls
 * over the agent protocol.
 */
export type HostLink = Pick<Runtime, 'imageNotice' | 'start' | 'inspect' | 'stop' | 'destroy' | 'wipeDisk' | 'setSshKeys' | 'logs' | 'list'> & {
  /** False once a remote agent stopped polling; absent for the embedded host (always reachable). */
  connected?(): boolean;
  close?(reason: string): void;
};

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

  machineIds(): number[] {
    return [...this.#links.entries()].filter(([, l]) => l.connected?.() ?? true).map(([id]) => id);
  }
}

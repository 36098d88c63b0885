import type { Runtime } from '../runtime/runtime.js';

/**
 * What the control plane needs from a host to run instances. The embedded host passes its
 * runtime straight through; a remote agent implements the same calls over its protocol.
 */
export type HostLink = Pick<Runtime, 'imageNotice' | 'start' | 'inspect' | 'stop' | 'destroy' | 'wipeDisk' | 'logs' | 'usage' | 'list'>;

/** Hosts this control-plane process can reach now, by machine id. */
export class HostRegistry {
  readonly #links = new Map<number, HostLink>();

  set(machineId: number, link: HostLink): void {
    this.#links.set(machineId, link);
  }

  delete(machineId: number): void {
    this.#links.delete(machineId);
  }

  get(machineId: number): HostLink | undefined {
    return this.#links.get(machineId);
  }

  machineIds(): number[] {
    return [...this.#links.keys()];
  }
}

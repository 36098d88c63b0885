import type { ControlPlane } from '../control/control-plane.js';
import type { MachineRecord } from '../store/store.js';
import type { Runtime } from '../runtime/runtime.js';
import { detectGpus } from './gpu-detect.js';
import { describeHost, type HostSettings } from './host-info.js';

/**
 * The host agent running inside the control-plane process (`gantry up`): it registers this
 * machine, keeps it alive with heartbeats, and hands its runtime to the control plane.
 */
export class LocalAgent {
  readonly #control: ControlPlane;
  readonly #runtime: Runtime;
  readonly #settings: HostSettings & { gpus: string | null; heartbeatIntervalMs: number };
  #timer: NodeJS.Timeout | null = null;
  #machine: MachineRecord | null = null;

  constructor(control: ControlPlane, runtime: Runtime, settings: HostSettings & { gpus: string | null; heartbeatIntervalMs: number }) {
    this.#control = control;
    this.#runtime = runtime;
    this.#settings = settings;
  }

  get machine(): MachineRecord | null {
    return this.#machine;
  }

  async start(): Promise<MachineRecord> {
    const gpus = await detectGpus(this.#settings.gpus);
    const reg = await describeHost(this.#settings, gpus);
    this.#machine = await this.#control.registerHost(reg, this.#runtime);
    this.#runtime.onExit((instanceId) => this.#control.wake(instanceId));
    const id = this.#machine.id;
    this.#timer = setInterval(() => {
      this.#control.heartbeat(id).catch(() => undefined);
    }, this.#settings.heartbeatIntervalMs);
    return this.#machine;
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

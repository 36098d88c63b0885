import { Agent } from '../../src/agent/agent.js';
import { InProcessChannel, type AgentChannel } from '../../src/agent/channel.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { ensureHostToken, newHostToken } from '../../src/control/hosts/host-tokens.js';
import type { AgentMachineInfo } from '../../src/control/hosts/agent-hub.js';
import { createLogger } from '../../src/log/logger.js';
import type { Observation } from '../../src/domain/instance/reconcile.js';
import type { LogLine, Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';

/**
 * A runtime whose workloads are a map of observations the test sets (the host sweep's and pushed
 * listings' tests): it counts inspects and lists, and `exit` reports an exit as the real runtimes do.
 */
export class ScriptedRuntime implements Runtime {
  readonly name = 'scripted';
  readonly imageNotice = null;
  readonly states = new Map<number, Observation>();
  inspects: number[] = [];
  lists = 0;
  #exit: ((id: number) => void) | null = null;

  async start(spec: WorkloadSpec): Promise<void> {
    this.states.set(spec.instanceId, { state: 'running' });
  }
  async setSshKeys(): Promise<void> {}
  async inspect(id: number): Promise<Observation> {
    this.inspects.push(id);
    return this.states.get(id) ?? { state: 'absent' };
  }
  async stop(id: number): Promise<Observation> {
    this.states.delete(id);
    return { state: 'absent' };
  }
  destroy(id: number): Promise<Observation> {
    return this.stop(id);
  }
  async wipeDisk(): Promise<void> {}
  async logs(): Promise<string> {
    return '';
  }
  async logLines(): Promise<LogLine[]> {
    return [];
  }
  async list(): Promise<number[]> {
    this.lists++;
    return [...this.states.keys()];
  }
  async usage(): Promise<null> {
    return null;
  }
  onExit(listener: (id: number) => void): void {
    this.#exit = listener;
  }
  /** The workload ends and the runtime says so, as the process and Docker runtimes do. */
  exit(id: number, exitCode: number): void {
    this.states.set(id, { state: 'exited', exitCode });
    this.#exit?.(id);
  }
  async close(): Promise<void> {}
}

/** The commands the control plane sent an agent through its long poll, in order. */
export class CountingChannel implements AgentChannel {
  readonly #inner: InProcessChannel;
  readonly ops: string[] = [];
  constructor(inner: InProcessChannel) {
    this.#inner = inner;
  }
  count(op: string): number {
    return this.ops.filter((o) => o === op).length;
  }
  hello: AgentChannel['hello'] = (h) => this.#inner.hello(h);
  heartbeat: AgentChannel['heartbeat'] = (m) => this.#inner.heartbeat(m);
  results: AgentChannel['results'] = (m) => this.#inner.results(m);
  poll: AgentChannel['poll'] = async (m) => {
    const cmds = await this.#inner.poll(m);
    for (const c of cmds) this.ops.push(c.op);
    return cmds;
  };
}

/**
 * An agent of `runtime` joined to `cp` as `hostKey` (`machine`, named so), with a new host token of `accountId`;
 * its channel counts what it is asked. `agents` keeps it for the test to stop.
 */
export async function joinCountingAgent(
  cp: ControlPlane,
  accountId: number,
  runtime: Runtime,
  hostKey: string,
  machine: AgentMachineInfo,
  agents: Agent[],
  o: { readonly pushListings?: boolean } = {},
): Promise<{ machineId: number; channel: CountingChannel }> {
  const token = newHostToken();
  await ensureHostToken(cp.ctx, accountId, token);
  const channel = new CountingChannel(new InProcessChannel(cp.agents, token));
  const agent = new Agent({
    channel,
    runtime,
    hostKey,
    describe: () => Promise.resolve({ ...machine, hostname: hostKey }),
    gpuUtils: () => Promise.resolve(null),
    log: createLogger('silent'),
    ...o,
  });
  await agent.start();
  agents.push(agent);
  if (agent.machineId === null) throw new Error(`machine ${hostKey} not registered`);
  return { machineId: agent.machineId, channel };
}

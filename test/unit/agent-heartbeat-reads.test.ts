import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import type { AgentChannel } from '../../src/agent/channel.js';
import type { AgentMachineInfo, Heartbeat } from '../../src/control/hosts/agent-hub.js';
import type { AgentCommand } from '../../src/control/hosts/agent-session.js';
import { createLogger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { agentMachineInfo } from '../helpers/machines.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A GPU read that hangs (nvidia-smi stuck in the driver, which its timeout's SIGTERM does not end) must not be
 * started again by every heartbeat: the heartbeat goes on without it, and the one read under way is waited for.
 */
describe('heartbeat reads that hang', () => {
  it('one GPU read and one port read at a time, however many heartbeats pass', async () => {
    const beats: Heartbeat[] = [];
    const channel = {
      hello: async () => ({ machineId: 1, session: 's', heartbeatIntervalMs: 50, pollWaitMs: 50 }),
      poll: async (): Promise<AgentCommand[]> => {
        await sleep(20);
        return [];
      },
      heartbeat: async (m: Heartbeat) => void beats.push(m),
      results: async () => undefined,
    } as unknown as AgentChannel;
    let gpuReads = 0;
    let portReads = 0;
    const a = new Agent({
      channel,
      runtime: { name: 'process', list: async () => [], usage: async () => null, onExit: () => undefined, imageNotice: null } as unknown as Runtime,
      hostKey: 'h',
      describe: async () => agentMachineInfo() as unknown as AgentMachineInfo,
      gpuUtils: () => {
        gpuReads++;
        return new Promise<number[] | null>(() => undefined);
      },
      busyPorts: () => {
        portReads++;
        return new Promise<number[]>(() => undefined);
      },
      log: createLogger('silent'),
    });
    await a.start();
    for (const end = Date.now() + 60_000; beats.length < 3 && Date.now() < end;) await sleep(50);
    await a.stop();
    assert.ok(beats.length >= 3, 'heartbeats go on while the reads hang');
    assert.deepEqual([gpuReads, portReads], [1, 1], 'a read still under way is not started again');
  });
});

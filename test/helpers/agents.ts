import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { AgentMachineInfo } from '../../src/control/hosts/agent-hub.js';
import { createLogger } from '../../src/log/logger.js';
import { agentMachineInfo } from './machines.js';

/** An agent for unit tests of its messages: a fixed host key and machine, no GPU reads, no log; the rest as given. */
export const testAgent = (o: Pick<AgentOptions, 'channel' | 'runtime'> & Partial<AgentOptions>): Agent =>
  new Agent({
    hostKey: 'h',
    describe: async () => agentMachineInfo() as unknown as AgentMachineInfo,
    gpuUtils: async () => null,
    log: createLogger('silent'),
    ...o,
  });

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import type { AgentChannel } from '../../src/agent/channel.js';
import type { AgentMachineInfo, Welcome } from '../../src/control/hosts/agent-hub.js';
import type { AgentCommand } from '../../src/control/hosts/agent-session.js';
import { createLogger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { agentMachineInfo } from '../helpers/machines.js';
import { until } from '../helpers/serverless.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const WELCOME = { machineId: 1, session: 's', heartbeatIntervalMs: 20, pollWaitMs: 20, observeIntervalMs: 100 } as Welcome;

/**
 * A hello the control plane answers after the agent stopped: the agent armed its heartbeat and listing timers
 * on the answer and nothing cleared them, so a stopped agent went on heartbeating and its process never exited.
 */
function agentWithHeldHellos(firstPollFails: boolean) {
  const answers: (() => void)[] = [];
  let hellos = 0;
  let polls = 0;
  let heartbeats = 0;
  const channel = {
    hello: () => {
      hellos++;
      // The first hello answers at once when the reconnect's is the one held.
      if (firstPollFails && hellos === 1) return Promise.resolve(WELCOME);
      return new Promise<Welcome>((r) => answers.push(() => r(WELCOME)));
    },
    poll: async (): Promise<AgentCommand[]> => {
      polls++;
      if (firstPollFails && polls === 1) throw new Error('the session ended');
      await sleep(20);
      return [];
    },
    heartbeat: async () => void heartbeats++,
    results: async () => undefined,
  } as unknown as AgentChannel;
  const agent = new Agent({
    channel,
    runtime: { name: 'process', list: async () => [], usage: async () => null, onExit: () => undefined, imageNotice: null } as unknown as Runtime,
    hostKey: 'h',
    describe: async () => agentMachineInfo() as unknown as AgentMachineInfo,
    gpuUtils: async () => null,
    log: createLogger('silent'),
    retryMinMs: 10,
    pushListings: true,
  });
  return { agent, answers, hellos: () => hellos, heartbeats: () => heartbeats };
}

/** Timers alive in this process: a stopped agent leaves none of its own. */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('an agent stopped while its hello is under way', () => {
  it('at its first hello: start fails, and nothing of it runs once the hello is answered', async () => {
    const a = agentWithHeldHellos(false);
    const idle = timers();
    const started = a.agent.start().then(
      () => 'joined',
      (err: unknown) => String(err),
    );
    await until('hello', async () => a.answers.length === 1, 10_000);
    await a.agent.stop();
    a.answers[0]!();
    assert.match(await started, /stopped before it joined/);
    const before = a.heartbeats();
    await sleep(150); // several heartbeat intervals
    assert.equal(a.heartbeats(), before, 'no heartbeat after the stop');
    assert.equal(timers(), idle, 'none of its timers left');
  });

  it('at a hello again after its session ended: nothing of it runs once the hello is answered', async () => {
    const a = agentWithHeldHellos(true);
    const idle = timers();
    await a.agent.start();
    await until('the second hello', async () => a.answers.length === 1, 10_000);
    await a.agent.stop();
    a.answers[0]!();
    await sleep(20);
    const before = a.heartbeats();
    await sleep(150);
    assert.equal(a.heartbeats(), before, 'no heartbeat after the stop');
    assert.equal(a.hellos(), 2, 'and no hello after it');
    assert.equal(timers(), idle, 'none of its timers left');
  });
});

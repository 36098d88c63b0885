import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AgentChannel } from '../../src/agent/channel.js';
import type { Heartbeat } from '../../src/control/hosts/agent-hub.js';
import type { AgentCommand, AgentResult } from '../../src/control/hosts/agent-session.js';
import type { Observation } from '../../src/domain/instance/reconcile.js';
import type { Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';
import { testAgent } from '../helpers/agents.js';
import { until } from '../helpers/serverless.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An exit a stop causes is told by the stop's result: a heartbeat of its own (a scan of every workload, GPUs
 * and ports) would run in the middle of that stop, and the result would wait behind it. Any other exit, and
 * one during a stop that did not end the workload, is told with a heartbeat at once, as before.
 */
describe('exits during a stop', () => {
  const harness = async (stop: (id: number, exit: () => void) => Promise<Observation>, stopWaitMs?: number) => {
    const commands: AgentCommand[] = [];
    const beats: Heartbeat[] = [];
    const results: AgentResult[] = [];
    const channel = {
      // A long heartbeat interval: every heartbeat seen here was asked for by an exit (or is the first).
      hello: async () => ({ machineId: 1, session: 's', heartbeatIntervalMs: 60_000, pollWaitMs: 20 }),
      poll: async (): Promise<AgentCommand[]> => {
        await sleep(5);
        return commands.splice(0);
      },
      heartbeat: async (m: Heartbeat) => void beats.push(m),
      results: async (m: { results: AgentResult[] }) => void results.push(...m.results),
    } as unknown as AgentChannel;
    let onExit: (id: number) => void = () => undefined;
    const runtime = {
      name: 'process',
      list: async () => [],
      usage: async () => null,
      onExit: (l: (id: number) => void) => (onExit = l),
      stop: (id: number) => stop(id, () => onExit(id)),
      destroy: (id: number) => stop(id, () => onExit(id)),
      start: async () => undefined,
      imageNotice: null,
    } as unknown as Runtime;
    const agent = testAgent({ channel, runtime, ...(stopWaitMs !== undefined && { stopWaitMs }) });
    await agent.start();
    await until('the first heartbeat', async () => beats.length > 0);
    const exitedTold = (): number[] => beats.flatMap((b) => [...b.exited]);
    const answered = (id: string): Promise<AgentResult> => until(`the result of ${id}`, async () => results.find((x) => x.id === id));
    return { agent, commands, exitedTold, answered, exit: (id: number) => onExit(id) };
  };

  it('a stop that ends the workload tells its exit by the result alone', async () => {
    const h = await harness(async (_id, exit) => {
      exit(); // the leader ends while the stop waits for the rest
      await sleep(20);
      return { state: 'absent' };
    });
    try {
      h.commands.push({ id: 'c1', op: 'stop', instanceId: 7, graceMs: 1000 }, { id: 'c2', op: 'destroy', instanceId: 8, graceMs: 1000 });
      assert.deepEqual((await h.answered('c1')).value, { state: 'absent' });
      assert.deepEqual((await h.answered('c2')).value, { state: 'absent' });
      await sleep(50);
      assert.deepEqual(h.exitedTold(), [], 'no heartbeat for the exits the stops caused');
      h.exit(9); // a workload that ends by itself
      await until('an exit told', async () => h.exitedTold().length > 0);
      assert.deepEqual(h.exitedTold(), [9], 'told at once, as before');
    } finally {
      await h.agent.stop();
    }
  });

  it('a stop that failed, or left the workload running, tells the exit it saw after its result', async () => {
    let calls = 0;
    const h = await harness(async (_id, exit) => {
      exit();
      if (++calls === 1) throw new Error('the engine went away');
      return { state: 'running' };
    });
    try {
      h.commands.push({ id: 'c1', op: 'stop', instanceId: 7, graceMs: 1000 });
      assert.equal((await h.answered('c1')).ok, false);
      await until('an exit told', async () => h.exitedTold().length > 0);
      assert.deepEqual(h.exitedTold(), [7]);
      h.commands.push({ id: 'c2', op: 'stop', instanceId: 8, graceMs: 1000 });
      assert.deepEqual((await h.answered('c2')).value, { state: 'running' });
      await until('a second exit told', async () => h.exitedTold().length >= 2);
      assert.deepEqual(h.exitedTold(), [7, 8]);
    } finally {
      await h.agent.stop();
    }
  });

  it("the agent's own stop waits for a command under way only so long (agentStopWaitMs)", { timeout: 20_000 }, async () => {
    let called = false;
    // A stop the runtime never ends.
    const h = await harness(() => ((called = true), new Promise<Observation>(() => undefined)), 100);
    h.commands.push({ id: 'c1', op: 'stop', instanceId: 7, graceMs: 1000 });
    await until('the stop under way', async () => called);
    await h.agent.stop(); // before the bound, this waited for ever
  });

  it('a start after a stop still under way (the control plane gave up on it) has its exits told', async () => {
    const answers: ((o: Observation) => void)[] = [];
    const h = await harness(() => new Promise<Observation>((resolve) => answers.push(resolve)));
    try {
      h.commands.push({ id: 'c1', op: 'stop', instanceId: 7, graceMs: 1000 });
      await until('stop 1 under way', async () => answers.length >= 1); // it hangs
      h.commands.push({ id: 'c2', op: 'start', spec: { instanceId: 7 } as unknown as WorkloadSpec });
      await h.answered('c2');
      h.exit(7); // the new run ends by itself
      await until('an exit told', async () => h.exitedTold().length > 0);
      assert.deepEqual(h.exitedTold(), [7]);
      // A stop of a later run holds its exit; the stale stop ends meanwhile (failed) and must not end that hold.
      h.commands.push({ id: 'c3', op: 'stop', instanceId: 7, graceMs: 1000 });
      await until('stop 2 under way', async () => answers.length >= 2);
      h.exit(7);
      answers[0]?.({ state: 'running' });
      assert.deepEqual((await h.answered('c1')).value, { state: 'running' });
      await sleep(50);
      assert.deepEqual(h.exitedTold(), [7], 'the later stop still holds its exit');
      answers[1]?.({ state: 'absent' });
      assert.deepEqual((await h.answered('c3')).value, { state: 'absent' });
      await sleep(50);
      assert.deepEqual(h.exitedTold(), [7], 'told by its result');
    } finally {
      await h.agent.stop();
    }
  });
});

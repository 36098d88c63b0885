import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { KeptReads, Listings } from '../../src/agent/heartbeat-reads.js';
import type { AgentChannel } from '../../src/agent/channel.js';
import type { AgentMachineInfo, Heartbeat } from '../../src/control/hosts/agent-hub.js';
import type { AgentCommand } from '../../src/control/hosts/agent-session.js';
import { createLogger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { agentMachineInfo } from '../helpers/machines.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A channel that answers at once and keeps every heartbeat (a heartbeat each 50 ms, listings checked as often). */
function recording(): { beats: Heartbeat[]; channel: AgentChannel } {
  const beats: Heartbeat[] = [];
  const channel = {
    hello: async () => ({ machineId: 1, session: 's', heartbeatIntervalMs: 50, pollWaitMs: 50, observeIntervalMs: 50 }),
    poll: async (): Promise<AgentCommand[]> => {
      await sleep(20);
      return [];
    },
    heartbeat: async (m: Heartbeat) => void beats.push(m),
    results: async () => undefined,
  } as unknown as AgentChannel;
  return { beats, channel };
}

/**
 * A GPU read that hangs (nvidia-smi stuck in the driver, which its timeout's SIGTERM does not end) must not be
 * started again by every heartbeat: the heartbeat goes on without it, and the one read under way is waited for.
 */
describe('heartbeat reads that hang', () => {
  it('one GPU read and one port read at a time, however many heartbeats pass', async () => {
    const { beats, channel } = recording();
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

  /** An agent of two instances whose runtime's first `usage(1)` and first `inspect(1)` never answer (an engine that lost a request). */
  async function lostRequests(): Promise<{ beats: Heartbeat[]; stop: () => Promise<void>; asked: { usage: number; inspect: number } }> {
    const { beats, channel } = recording();
    const asked = { usage: 0, inspect: 0 };
    const usage = { cpuUtil: 1, memUsageMb: 2, diskUsageMb: 3 };
    const runtime = {
      name: 'process',
      imageNotice: null,
      onExit: () => undefined,
      list: async () => [1, 2],
      usage: (id: number) => (id === 1 && asked.usage++ === 0 ? new Promise(() => undefined) : Promise.resolve(usage)),
      inspect: (id: number) => (id === 1 && asked.inspect++ === 0 ? new Promise(() => undefined) : Promise.resolve({ state: 'running' })),
    } as unknown as Runtime;
    const a = new Agent({
      channel,
      runtime,
      hostKey: 'h',
      describe: async () => agentMachineInfo() as unknown as AgentMachineInfo,
      gpuUtils: async () => null,
      log: createLogger('silent'),
      pushListings: true,
      readTimeoutMs: 300,
    });
    await a.start();
    return { beats, stop: () => a.stop(), asked };
  }

  it("an instance's usage read that never answers holds back only that instance, and only until it is asked again", async () => {
    const { beats, stop, asked } = await lostRequests();
    try {
      const has = (b: Heartbeat, id: number): boolean => b.usage.some((u) => u.instanceId === id);
      for (const end = Date.now() + 60_000; !beats.some((b) => has(b, 1)) && Date.now() < end;) await sleep(50);
      const first = beats.find((b) => b.usage.length > 0);
      assert.deepEqual(
        first?.usage.map((u) => u.instanceId),
        [2],
        'the other instance is not held back',
      );
      assert.ok(
        beats.some((b) => has(b, 1)),
        'asked again after readTimeoutMs, its usage is sent',
      );
      assert.ok(asked.usage >= 2);
    } finally {
      await stop();
    }
  });

  it('a listing whose answer never comes is asked again after readTimeoutMs', async () => {
    const { beats, stop } = await lostRequests();
    try {
      for (const end = Date.now() + 60_000; !beats.some((b) => b.listing !== undefined) && Date.now() < end;) await sleep(50);
      assert.deepEqual(beats.find((b) => b.listing !== undefined)?.listing, [
        { id: 1, state: 'running' },
        { id: 2, state: 'running' },
      ]);
    } finally {
      await stop();
    }
  });
});

describe('kept reads of an engine that lost requests', () => {
  // Their bounds' timers do not hold the process (an agent has its own that do): this test's do.
  let alive: NodeJS.Timeout;
  before(() => void (alive = setInterval(() => undefined, 1_000)));
  after(() => clearInterval(alive));

  it('asks a read that never answers once more past its bound, and not a third time while both stand', async () => {
    const reads = new KeptReads<number, string>(20);
    const answers: ((v: string) => void)[] = [];
    const read = (): Promise<string> => new Promise<string>((r) => answers.push(r));
    for (let i = 0; i < 20; i++) {
      assert.equal(await reads.take(1, read, 0, 'late'), 'late');
      await sleep(10);
    }
    assert.equal(answers.length, 2, 'asked twice in all');
    answers[0]?.('from the first');
    assert.equal(await reads.take(1, read, 100, 'late'), 'from the first', 'the first, given up, still answers for it');
    assert.equal(await reads.take(1, async () => 'fresh', 100, 'late'), 'fresh', 'then a new read');
  });

  it('listings: two asked and unanswered at most, for heartbeats and checks together', async () => {
    let asked = 0;
    const runtime = { list: () => (asked++, new Promise(() => undefined)) } as unknown as Runtime;
    const listings = new Listings(runtime, 20);
    for (let i = 0; i < 10; i++) {
      assert.equal(await listings.within(0), undefined);
      assert.equal(await listings.checked(), null);
      await sleep(25);
    }
    assert.equal(asked, 2);
  });
});

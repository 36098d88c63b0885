import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpChannel, InProcessChannel } from '../../src/agent/channel.js';
import { loadConfig, workloadBaseEnv } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startHost, type RunningHost } from '../../src/main/host.js';
import { FAST, type TestGantry } from './gantry.js';
import { reservePortBlock } from './ports.js';

/** Another host joined to a test gantry, as `gantry agent` joins: its own data dir, port range and host token. */
export interface SecondHost {
  readonly host: RunningHost;
  readonly dataDir: string;
  readonly machineId: number;
  /** Stop the agent, end its workloads, and remove its data dir. */
  dispose(): Promise<void>;
}

/** `http`: a real agent over HTTP, in this process; `in-process`: the embedded host's channel (no wire). */
export async function joinSecondHost(g: TestGantry, o: { channel: 'http' | 'in-process'; gpus?: string }): Promise<SecondHost> {
  const token = (await g.api('POST', '/api/v0/host_tokens/', { name: `second-${Date.now()}` })).body.token as string;
  const dataDir = await mkdtemp(join(tmpdir(), 'gantry-second-host-'));
  const ports = reservePortBlock();
  const config = loadConfig({
    env: {},
    flags: {
      dataDir,
      runtime: 'process',
      gpus: o.gpus ?? '1x RTX 4090:24GB',
      logLevel: 'silent',
      portRangeStart: ports.start,
      portRangeEnd: ports.start + 99,
      ...FAST,
    },
  });
  const channel = o.channel === 'http' ? new HttpChannel(g.url, token) : new InProcessChannel(g.control.agents, token);
  const host = await startHost(config, channel, { log: createLogger('silent'), workloadEnv: workloadBaseEnv() });
  return {
    host,
    dataDir,
    machineId: host.agent.machineId as number,
    async dispose() {
      await host.agent.stop();
      for (const id of await host.runtime.list()) await host.runtime.destroy(id, { graceMs: 500 });
      await host.runtime.close();
      await rm(dataDir, { recursive: true, force: true });
      ports.release();
    },
  };
}

import { randomUUID } from 'node:crypto';
import { outgoingOverlap, probeBusyPorts } from '../agent/port-probe.js';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import type { AgentChannel } from '../agent/channel.js';
import { detectGpus, gpuUtilReader } from '../agent/gpu-detect.js';
import { describeHost } from '../agent/host-info.js';
import type { Config } from '../config/schema.js';
import type { Runtime } from '../runtime/runtime.js';
import { readOrCreate } from '../runtime/files.js';
import { openRuntime } from './runtime.js';
import { SshAccess } from '../agent/ssh-access.js';

export interface RunningHost {
  readonly agent: Agent;
  readonly runtime: Runtime;
  readonly hostKey: string;
  /** Whether tenants' workloads are isolated (containers, or the process sandbox). */
  readonly sandboxed: boolean;
}

/**
 * The host side, shared by `gantry agent` (HTTP channel) and `gantry up` (in-process channel): pick the
 * runtime, detect GPUs, and start the agent with a host key kept in the data dir.
 */
export async function startHost(
  c: Config,
  channel: AgentChannel,
  o: { log: Logger; workloadEnv: Readonly<Record<string, string>>; onRefused?: (err: unknown) => void },
): Promise<RunningHost> {
  await mkdir(c.dataDir, { recursive: true, mode: 0o700 });
  await chmod(c.dataDir, 0o700);
  const gpus = await detectGpus(c.gpus, c.gpuReadTimeoutMs, (msg) => o.log.warn(msg));
  const { runtime, sandboxed } = await openRuntime(c, { ...o, nvidiaGpus: gpus !== null && !gpus.declared });
  const hostKey = await readOrCreate(join(c.dataDir, 'host.key'), () => `host:${randomUUID()}`);
  const shared = await outgoingOverlap(c.portRangeStart, c.portRangeEnd);
  // Said, not refused: the busy-port probe keeps most such starts from failing, and the default range is in it on Linux.
  if (shared !== null)
    o.log.info(
      { portRange: `${c.portRangeStart}-${c.portRangeEnd}`, outgoing: `${shared.first}-${shared.last}` },
      `instance ports ${shared.first}-${shared.last} are also the kernel's for outgoing connections: one may take a port just before an instance binds it, and that start fails. Choose a --port-range outside it, or reserve the range (sysctl net.ipv4.ip_local_reserved_ports=${c.portRangeStart}-${c.portRangeEnd})`,
    );
  const hostSettings = { dataDir: c.dataDir, publicIp: c.publicIp, portRangeStart: c.portRangeStart, portRangeEnd: c.portRangeEnd, runtime: runtime.name };
  const isolation = { sandboxed, unsafeSharedRuntime: c.unsafeSharedProcessRuntime };
  // SSH access to instances: needs a runtime that can run a command beside the workload.
  const ssh =
    runtime.exec === undefined
      ? undefined
      : await SshAccess.open({
          runtime,
          dataDir: c.dataDir,
          bindAddress: c.sshBindAddress,
          sftpServer: c.sshSftpServer,
          loginGraceMs: c.sshLoginGraceMs,
          keepaliveMs: c.sshKeepaliveMs,
          readTimeoutMs: c.agentReadTimeoutMs,
          copyRoot: runtime.name === 'process' ? 'home' : '/',
          shell: runtime.name === 'process' ? 'bash' : 'image',
          log: o.log.child({ component: 'ssh' }),
        });
  const agent = new Agent({
    channel,
    runtime,
    ...(ssh !== undefined && { ssh }),
    hostKey,
    describe: () => describeHost({ ...hostSettings, ...isolation }, gpus),
    gpuUtils: gpuUtilReader(gpus, c.gpuReadTimeoutMs),
    busyPorts: () => probeBusyPorts(c.portRangeStart, c.portRangeEnd),
    log: o.log.child({ component: 'agent' }),
    pushListings: true,
    readTimeoutMs: c.agentReadTimeoutMs,
    stopWaitMs: c.agentStopWaitMs,
    ...(o.onRefused !== undefined && { onRefused: o.onRefused }),
  });
  try {
    await agent.start();
  } catch (err) {
    await ssh?.close();
    await runtime.close();
    throw err;
  }
  return { agent, runtime, hostKey, sandboxed };
}

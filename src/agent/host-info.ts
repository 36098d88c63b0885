import { statfs } from 'node:fs/promises';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import type { AgentMachineInfo } from '../control/hosts/agent-hub.js';
import type { GpuInventory } from '../domain/machine/gpus.js';

export interface HostSettings {
  readonly dataDir: string;
  readonly publicIp: string;
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  readonly runtime: string;
  /** Whether tenants' workloads are isolated (containers, or the process sandbox). */
  readonly sandboxed: boolean;
  /** The operator lets every account use this host although it is not isolated (--unsafe-shared-process-runtime). */
  readonly unsafeSharedRuntime: boolean;
}

/** What this machine has, in the units offers use (MB of memory, GB of disk). */
export async function describeHost(s: HostSettings, gpus: GpuInventory | null): Promise<AgentMachineInfo> {
  const fs = await statfs(s.dataDir);
  const cpuList = cpus();
  return {
    hostname: hostname(),
    gpuName: gpus?.name ?? 'CPU',
    numGpus: gpus?.count ?? 0,
    gpuRamMb: gpus?.memoryMb ?? 0,
    gpuDeclared: gpus?.declared ?? false,
    computeCap: gpus?.computeCap ?? null,
    cpuName: cpuList[0]?.model.trim() ?? 'unknown',
    cpuArch: arch() === 'x64' ? 'amd64' : arch(),
    cpuCores: cpuList.length,
    cpuRamMb: Math.round(totalmem() / 1e6),
    diskSpaceGb: Math.floor((fs.bavail * fs.bsize) / 1e9),
    driverVersion: gpus?.driverVersion ?? null,
    cudaMaxGood: gpus?.cudaVersion ?? null,
    publicIp: s.publicIp,
    inetUpMbps: 1000,
    inetDownMbps: 1000,
    osVersion: release(),
    portRangeStart: s.portRangeStart,
    portRangeEnd: s.portRangeEnd,
    runtime: s.runtime,
    isolation: s.sandboxed ? 'sandboxed' : s.unsafeSharedRuntime ? 'unsafe-shared' : 'shared',
  };
}

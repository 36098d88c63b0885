import { statfs } from 'node:fs/promises';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import type { GpuInventory } from '../domain/machine/gpus.js';
import type { MachineRegistration } from '../store/store.js';

export interface HostSettings {
  readonly hostKey: string;
  readonly ownerId: number;
  readonly dataDir: string;
  readonly publicIp: string;
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  readonly priceGpuPerHour: number;
  readonly priceDiskPerGbMonth: number;
  readonly verified: boolean;
}

/** What this machine has, in the units offers use (MB of memory, GB of disk). */
export async function describeHost(s: HostSettings, gpus: GpuInventory | null): Promise<MachineRegistration> {
  const fs = await statfs(s.dataDir);
  const cpuList = cpus();
  return {
    hostKey: s.hostKey,
    ownerId: s.ownerId,
    hostname: hostname(),
    gpuName: gpus?.name ?? 'CPU',
    numGpus: gpus?.count ?? 0,
    gpuRamMb: gpus?.memoryMb ?? 0,
    gpuDeclared: gpus?.declared ?? false,
    computeCap: null,
    cpuName: cpuList[0]?.model.trim() ?? 'unknown',
    cpuArch: arch() === 'x64' ? 'amd64' : arch(),
    cpuCores: cpuList.length,
    cpuRamMb: Math.round(totalmem() / 1e6),
    diskSpaceGb: Math.floor((fs.bavail * fs.bsize) / 1e9),
    driverVersion: gpus?.driverVersion ?? null,
    cudaMaxGood: gpus?.cudaVersion ?? null,
    verified: s.verified,
    priceGpuPerHour: s.priceGpuPerHour,
    priceDiskPerGbMonth: s.priceDiskPerGbMonth,
    priceInetUpPerGb: 0,
    priceInetDownPerGb: 0,
    minBidPerGpuHour: s.priceGpuPerHour / 2,
    minChunk: 1,
    publicIp: s.publicIp,
    geolocation: 'local',
    reliability: 1,
    inetUpMbps: 1000,
    inetDownMbps: 1000,
    directPortCount: s.portRangeEnd - s.portRangeStart + 1,
    osVersion: release(),
    portRangeStart: s.portRangeStart,
    portRangeEnd: s.portRangeEnd,
  };
}

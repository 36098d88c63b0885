import { assertNever } from '../../../domain/errors.js';
import type { InstanceStatus } from '../../../domain/instance/status.js';
import { offerId, storagePerHour } from '../../../domain/offer/offer.js';
import type { InstanceView } from '../../../control/instances/read-instances.js';
import type { AccountRecord } from '../../../domain/account/records.js';
import type { MachineRecord } from '../../../domain/machine/machine.js';
import { volumeName } from '../../../domain/volume/volume.js';

/**
 * Vast's `actual_status` for a core status. `stopping` is still `running` there (processes are
 * alive until the stop is confirmed); `failed` has no Vast name, so it reads `unknown` and
 * `status_msg` carries the reason (the core status is also in `gantry_status`).
 */
export function vastActualStatus(s: InstanceStatus): string | null {
  switch (s) {
    case 'created':
      return null;
    case 'loading':
      return 'loading';
    case 'running':
      return 'running';
    case 'rebooting':
      return 'rebooting';
    case 'stopping':
      return 'running';
    case 'stopped':
      return 'stopped';
    case 'exited':
      return 'exited';
    case 'failed':
      return 'unknown';
    case 'unknown':
      return 'unknown';
    case 'destroyed':
      return 'exited';
    default:
      return assertNever(s, 'instance status');
  }
}

/**
 * One linked volume as `show instances` reads it (`#id used/total GB`). How full it is is not measured,
 * so `avail_space` is null and the clients show the id alone.
 */
function vastVolumeInfo(l: InstanceView['volumes'][number]): Record<string, unknown> {
  return {
    id: l.volumeId,
    volume_name: volumeName(l.volumeId),
    name: l.name,
    mount_path: l.mountPath,
    total_space: l.sizeGb,
    avail_space: null,
    type: 'local_volume',
  };
}

/**
 * Vast's `ports`, Docker-style: every host port published for the instance, by container port. The agent's
 * SSH access is the instance's port 22 and comes first (`ssh-url` and `scp-url` read `ports["22/tcp"][0]`);
 * a port 22 the renter published (`-p 22:22`) is listed after it, not dropped.
 */
export function vastPorts(i: Pick<InstanceView['instance'], 'ports' | 'sshPort'>): Record<string, { HostIp: string; HostPort: string }[]> {
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const add = (key: string, hostPort: number): void => {
    (ports[key] ??= []).push({ HostIp: '0.0.0.0', HostPort: String(hostPort) });
  };
  if (i.sshPort !== null) add('22/tcp', i.sshPort);
  for (const p of i.ports) add(`${p.containerPort}/${p.proto}`, p.hostPort);
  return ports;
}

const sec = (ms: number | null): number | null => (ms === null ? null : Math.round(ms) / 1000);
const r6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** One instance as Vast's clients read it (`show instance(s)`, the SDK, `ssh-url`). */
export function vastInstance(v: InstanceView, now: number): Record<string, unknown> {
  const i = v.instance;
  const m: MachineRecord | undefined = v.machine;
  const ports = vastPorts(i);
  const extraEnv: [string, string][] = [
    ...Object.entries(i.env),
    ...i.requestedPorts.map((p): [string, string] => [`-p ${p.containerPort}:${p.containerPort}${p.proto === 'udp' ? '/udp' : ''}`, '1']),
  ];
  const storageHour = m ? storagePerHour(m, i.diskGb) : 0;
  // An instance on a silent host reads `offline`, as Vast shows it, until the host is back and truth is known.
  const actual = i.status === 'unknown' && m !== undefined && !m.online ? 'offline' : vastActualStatus(i.status);
  const running = i.status === 'running' && i.startDate !== null;
  const share = m && m.numGpus > 0 ? i.numGpus / m.numGpus : 1;
  return {
    id: i.id,
    machine_id: i.machineId,
    host_id: m?.ownerId ?? null,
    bundle_id: offerId(i.machineId, i.numGpus),
    actual_status: actual,
    intended_status: i.target === 'deleted' ? 'deleted' : i.target,
    cur_state: actual === 'running' || actual === 'loading' || actual === 'rebooting' ? 'running' : 'stopped',
    next_state: i.target === 'deleted' ? 'deleted' : i.target,
    gantry_status: i.status,
    // A reboot or recycle asked for but not yet begun: `actual_status` still reads running until the reconciler acts.
    gantry_pending_op: i.pendingOp,
    status_msg: i.statusMsg,
    exit_code: i.exitCode,
    label: i.label,
    // The template it was made (or last updated) from, as the template was then.
    template_id: i.template?.id ?? null,
    template_hash_id: i.template?.hashId ?? null,
    template_name: i.template?.name ?? null,
    image_uuid: i.image,
    image_args: i.args ?? [],
    image_runtype: i.runtype,
    entrypoint: i.entrypoint,
    extra_env: extraEnv,
    onstart: i.onstart,
    jupyter_token: null,
    ssh_host: m?.publicIp ?? null,
    ssh_port: i.sshPort,
    ssh_idx: null,
    machine_dir_ssh_port: null,
    public_ipaddr: m?.publicIp ?? null,
    local_ipaddrs: '127.0.0.1',
    ports,
    direct_port_count: i.ports.length,
    direct_port_start: i.ports[0]?.hostPort ?? null,
    direct_port_end: i.ports.at(-1)?.hostPort ?? null,
    start_date: sec(i.startDate ?? i.createdAt),
    end_date: null,
    created_at: sec(i.createdAt),
    uptime_mins: running ? Math.floor((now - i.startDate) / 60_000) : 0,
    duration: null,
    num_gpus: i.numGpus,
    gpu_name: m?.numGpus === 0 ? 'CPU' : (m?.gpuName ?? null),
    gpu_arch: m?.numGpus === 0 ? 'none' : 'nvidia',
    gpu_ram: m?.gpuRamMb ?? null,
    gpu_totalram: m ? m.gpuRamMb * i.numGpus : null,
    gpu_frac: Math.round(share * 1e4) / 1e4,
    gpu_util: v.usage?.gpuUtil ?? null,
    gpu_temp: null,
    gpu_indices: i.gpuIndices,
    cpu_name: m?.cpuName ?? null,
    cpu_arch: m?.cpuArch ?? null,
    cpu_cores: m?.cpuCores ?? null,
    cpu_cores_effective: m ? Math.round(m.cpuCores * share * 100) / 100 : null,
    cpu_ram: m?.cpuRamMb ?? null,
    cpu_util: v.usage?.cpuUtil ?? 0,
    // GB as Vast sends it, to the runtime's 0.1 MB: rounded to whole MB, a small workload (a shell and a web
    // server: half a MB on some kernels) read 0, as if nothing ran.
    mem_usage: v.usage ? Math.round(v.usage.memUsageMb * 10) / 10_000 : 0,
    mem_limit: m ? Math.round(m.cpuRamMb * share) / 1000 : null,
    vmem_usage: null,
    disk_space: i.diskGb,
    disk_usage: v.usage ? v.usage.diskUsageMb / 1000 : 0,
    disk_util: v.usage ? Math.min(1, v.usage.diskUsageMb / 1000 / i.diskGb) : 0,
    disk_name: null,
    disk_bw: null,
    volume_info: v.volumes.map(vastVolumeInfo),
    dph_base: r6(i.dphBase),
    dph_total: r6(i.dphBase + storageHour),
    storage_cost: i.storageCost,
    storage_total_cost: r6(storageHour),
    is_bid: i.offerType === 'bid',
    min_bid: m ? r6(m.minBidPerGpuHour * Math.max(1, i.numGpus)) : null,
    inet_up: m?.inetUpMbps ?? null,
    inet_down: m?.inetDownMbps ?? null,
    inet_up_cost: m?.priceInetUpPerGb ?? null,
    inet_down_cost: m?.priceInetDownPerGb ?? null,
    reliability2: m?.reliability ?? null,
    verification: m?.verified ? 'verified' : 'unverified',
    rentable: true,
    geolocation: m?.geolocation ?? null,
    os_version: m?.osVersion ?? null,
    static_ip: true,
    external: false,
    hosting_type: 0,
    credit_balance: null,
    time_remaining: '',
  };
}

export function vastUser(a: AccountRecord): Record<string, unknown> {
  return {
    id: a.id,
    username: a.username,
    email: a.email,
    fullname: a.fullname ?? a.username,
    is_admin: a.isAdmin,
    balance: a.balance,
    credit: a.balance,
    has_billing: false,
    created_at: a.createdAt / 1000,
  };
}

export function vastMachine(m: MachineRecord): Record<string, unknown> {
  return {
    id: m.id,
    machine_id: m.id,
    hostname: m.hostname,
    host_id: m.ownerId,
    gpu_name: m.gpuName,
    num_gpus: m.numGpus,
    gpu_ram: m.gpuRamMb,
    gpu_declared: m.gpuDeclared,
    cpu_name: m.cpuName,
    cpu_cores: m.cpuCores,
    cpu_ram: m.cpuRamMb,
    disk_space: m.diskSpaceGb,
    driver_version: m.driverVersion,
    cuda_max_good: m.cudaMaxGood,
    verification: m.verified ? 'verified' : 'unverified',
    verified: m.verified,
    listed: m.listed,
    online: m.online,
    public_ipaddr: m.publicIp,
    geolocation: m.geolocation === '' ? null : m.geolocation,
    reliability2: m.reliability,
    // Renters cannot file reports in Gantry (see `reports`).
    num_reports: 0,
    listed_gpu_cost: m.priceGpuPerHour,
    listed_storage_cost: m.priceDiskPerGbMonth,
    min_chunk: m.minChunk,
    min_bid_price: m.minBidPerGpuHour,
    listed_inet_up_cost: m.priceInetUpPerGb,
    listed_inet_down_cost: m.priceInetDownPerGb,
    end_date: m.endDate === null ? null : m.endDate / 1000,
    credit_discount_max: m.discountRate,
    maintenance: m.maintenance === null ? null : { sdate: m.maintenance.start / 1000, edate: m.maintenance.end / 1000, reason: m.maintenance.reason },
    in_maintenance: m.inMaintenance,
    runtype: m.runtime,
    gpu_util: m.gpuUtils,
    last_seen: m.lastSeenAt / 1000,
    timeout: null,
  };
}

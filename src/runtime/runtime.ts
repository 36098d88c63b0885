import type { Readable, Writable } from 'node:stream';
import type { Observation } from '../domain/instance/reconcile.js';
import type { VolumeMount } from '../domain/volume/volume.js';
import type { StorageCommand } from './storage.js';

/**
 * The runtime port: runs one instance's workload on this host. Implementations label what they
 * start with the instance id, so a later process (after a crash) finds it again: `start` is
 * idempotent and `list` finds orphans both ways.
 */
export interface WorkloadSpec {
  readonly instanceId: number;
  readonly image: string;
  /** Complete environment for the workload (user env plus the injected variables). */
  readonly env: Readonly<Record<string, string>>;
  readonly onstart: string | null;
  /** Main command as an argv list (entrypoint then args); empty when only onstart runs. */
  readonly command: readonly string[];
  /** `args`: the instance ends when the main command ends; otherwise it stays up after onstart (ssh/jupyter). */
  readonly runtype: string;
  readonly gpuIndices: readonly number[];
  /** Host ports given to the instance and the container ports they stand for (containers publish them). */
  readonly ports: readonly { readonly hostPort: number; readonly containerPort: number; readonly proto: 'tcp' | 'udp' }[];
  /** Public keys for the disk's `.ssh/authorized_keys`, written before the workload starts. */
  readonly sshKeys: readonly string[];
  /** Volumes linked into the instance: their folders on this host appear at the mount paths (`storage.ts`). */
  readonly volumes?: readonly VolumeMount[];
  /** The renting account: a process instance's disk may start from that account's snapshot named by `image`. */
  readonly accountId?: number;
  /** Host port the agent serves SSH access to this instance on (src/agent/ssh-access.ts); absent: none. */
  readonly sshPort?: number | null;
}

export interface Usage {
  /** Percent of one core, summed over the workload's processes. */
  readonly cpuUtil: number;
  readonly memUsageMb: number;
  readonly diskUsageMb: number;
}

/** One line of a workload's output, as the runtime recorded it (the newline is not part of `text`). */
export interface LogLine {
  /** When the runtime saw the line, epoch ms. */
  readonly at: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** Which lines `logLines` returns: those with `since <= at <= until` (epoch ms, both optional), the newest `tail` of them. */
export interface LogQuery {
  readonly tail: number;
  readonly since?: number;
  readonly until?: number;
}

export interface StopOptions {
  /** SIGTERM first, SIGKILL after this many ms. */
  readonly graceMs: number;
}

/** A command run in an instance's environment, beside its workload (SSH sessions, `execute`, copies). */
export interface ExecRequest {
  readonly argv: readonly string[];
  /** The workload's environment (the spec's env); the runtime adds HOME and what else it gives its workloads. */
  readonly env: Readonly<Record<string, string>>;
  /** Run on a pseudo-terminal of this size (an interactive SSH session); null: plain pipes. */
  readonly tty: { readonly term: string; readonly cols: number; readonly rows: number } | null;
}

export interface ExecProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Empty on a terminal (its output is all on stdout). */
  readonly stderr: Readable;
  /** The exit code, or the signal that ended it. */
  readonly done: Promise<{ readonly code: number | null; readonly signal: string | null }>;
  /** End it and everything it started. */
  kill(): void;
  /** A terminal's new size (an SSH window change); absent: the size stays as it was opened. */
  resize?(cols: number, rows: number): void;
}

export interface Runtime {
  readonly name: string;
  /** One-line note about what `image` means on this runtime, shown once in status_msg. */
  readonly imageNotice: string | null;
  /** Start the workload unless it already runs (then adopt it). Resolves once it was launched. */
  start(spec: WorkloadSpec): Promise<void>;
  inspect(instanceId: number): Promise<Observation>;
  /** Stop every process of the workload; resolves with the observation after the attempt. */
  stop(instanceId: number, o: StopOptions): Promise<Observation>;
  /** Stop, then remove the disk and all runtime files. */
  destroy(instanceId: number, o: StopOptions): Promise<Observation>;
  /** Replace the disk with an empty one (recycle); the workload must be stopped. */
  wipeDisk(instanceId: number): Promise<void>;
  /** Rewrite the disk's `.ssh/authorized_keys` now (a key attached to or detached from a running instance). */
  setSshKeys(instanceId: number, keys: readonly string[]): Promise<void>;
  /** The workload's combined stdout/stderr, last `tail` lines. */
  logs(instanceId: number, tail: number): Promise<string>;
  /** The workload's output line by line with time and stream, oldest first; empty for an unknown instance. */
  logLines(instanceId: number, q: LogQuery): Promise<LogLine[]>;
  /** Instance ids that have live workloads under this runtime's label. */
  list(): Promise<number[]>;
  usage(instanceId: number): Promise<Usage | null>;
  /** Run a command as the instance's workload runs (same sandbox, uid and environment); its processes are not the workload's. */
  exec?(instanceId: number, r: ExecRequest): Promise<ExecProcess>;
  /** Progress of a slow start (an image pull), shown in the instance's status_msg while it loads. */
  onProgress?(listener: (instanceId: number, message: string) => void): void;
  /** Called when a workload ends by itself, so the reconciler can look at once. */
  onExit(listener: (instanceId: number) => void): void;
  /** Volume folders and snapshots (`storage.ts`); absent: this runtime keeps no volumes. */
  storage?(c: StorageCommand): Promise<unknown>;
  close(): Promise<void>;
}

/** How workloads are isolated (`sandbox.ts`, docs/decisions/008-process-sandbox.md). */
export interface ProcessSandbox {
  /** Gantry's data dir: hidden from every workload. */
  readonly dataDir: string;
  /** Instance N runs as host uid/gid `uidBase + N` (Gantry runs as root); null: Gantry's own uid in a user namespace. */
  readonly uidBase: number | null;
  /** Paths workloads must find read-only at the same place (node, Gantry's package). */
  readonly readOnly: readonly string[];
  /** Folders hidden by an empty tmpfs (the home of the user running Gantry). */
  readonly hidden: readonly string[];
  /** GPU device nodes passed through. */
  readonly devices: readonly string[];
}

export interface ProcessRuntimeOptions {
  /** Directory holding one folder per instance: `disk/` (the instance's disk) and `meta/` (runtime files). */
  readonly root: string;
  /** After SIGKILL, how long to wait for the kernel to reap before calling the stop failed. */
  readonly killWaitMs: number;
  /** The longest wait between two looks at signalled processes (each look reads only their /proc entries). */
  readonly pollMs: number;
  /** Environment every workload starts from (PATH, LANG); the spec's env is laid over it. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Disk usage is a directory walk: reuse it this long (instance lists are polled often). */
  readonly diskUsageTtlMs?: number;
  /** Which stamper the wrapper runs: perl when it has Time::HiRes, else node (`auto`), or node always. */
  readonly logStamper?: 'auto' | 'node';
  /** Run every workload in a bwrap sandbox; absent: as Gantry's own user, seeing what Gantry sees. */
  readonly sandbox?: ProcessSandbox;
}

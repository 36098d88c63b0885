import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Observation } from '../../domain/instance/reconcile.js';
import { cpuPercent, DiskUsageCache, instanceDirs, instancePaths, openRuntimeRoot, readCode, unlinkEntry, writeAuthorizedKeys, writeInside } from '../files.js';
import { MAX_LOG_BYTES } from '../log-lines.js';
import type { ExecProcess, ExecRequest, LogLine, LogQuery, Runtime, StopOptions, Usage, WorkloadSpec } from '../runtime.js';
import { containerExec } from './docker-exec.js';
import { NewestLines, NewestText, readEngineLogs } from './log-tail.js';
import { ensureImage } from './pull.js';
import { EngineEvents } from './engine-events.js';
import { within } from '../within.js';
import { CONTAINER_WRAPPER } from './wrapper.js';
import { dockerStorage, imageToRun } from './docker-storage.js';
import { LABEL_INSTANCE, LABEL_RUNTIME, withStrays, removeLabelled, statusOf, stopContainer, stopOthersLabelled } from './labelled.js';
import { containerPath, ensureVolumeDir, volumeRootOf, type StorageCommand } from '../storage.js';
import { OneAtATime } from '../one-at-a-time.js';

export interface DockerRuntimeOptions {
  /** One folder per instance: `disk/` (bind-mounted at /workspace) and `meta/` (at /.gantry: exit codes, onstart). */
  readonly root: string;
  /** Engine address: unix:///path, tcp://host:port, or null for /var/run/docker.sock. */
  readonly dockerHost: string | null;
  /** After the engine's stop returns, how long to wait for the container to be gone before the stop counts as failed. */
  readonly killWaitMs: number;
  readonly pollMs: number;
  /** Pass the instance's GPUs as NVIDIA device requests (false on hosts with declared, not real, GPUs). */
  readonly nvidiaGpus: boolean;
  readonly diskUsageTtlMs?: number;
  /** Between SIGTERM and SIGKILL for a container labelled as an instance that is not its own (`inspect`); default 1 s. */
  readonly strayGraceMs?: number;
  /** An image pull that reports no progress this long is given up (`imagePullStallMs`); default 15 min. */
  readonly pullStallMs?: number;
  /**
   * A request to the engine for its first answer (at open), its events, or a log read whose answer or next
   * piece does not come this long is given up (`agentReadTimeoutMs`); default 60 s.
   */
  readonly readTimeoutMs?: number;
}

export function engineFor(dockerHost: string | null): Docker {
  if (dockerHost === null || dockerHost === '') return new Docker({ socketPath: '/var/run/docker.sock' });
  if (dockerHost.startsWith('unix://')) return new Docker({ socketPath: dockerHost.slice('unix://'.length) });
  const u = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return new Docker({ host: u.hostname, port: Number(u.port === '' ? 2375 : u.port), protocol: 'http' });
}

/** Tries of a container inspect that the engine answered with a passing 500. */
const INSPECT_ATTEMPTS = 4;

/**
 * Runs each instance as a container through the Docker Engine API (Docker, or Podman's compatible
 * service). Containers carry labels (runtime id, instance id) and a fixed name, so a restarted agent
 * finds and adopts them. A stop keeps the container (its filesystem) and the disk; destroy removes both.
 */
export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  readonly imageNotice = null;
  readonly #o: DockerRuntimeOptions;
  readonly #docker: Docker;
  readonly #starts = new OneAtATime<number>();
  readonly #exitListeners: ((id: number) => void)[] = [];
  readonly #progressListeners: ((id: number, msg: string) => void)[] = [];
  readonly #cpuSamples = new Map<number, { cpuMs: number; at: number }>();
  /** Instances whose stray containers are being stopped (see `list`). */
  readonly #strays = new Set<number>();
  readonly #diskUsage: DiskUsageCache;
  #runtimeId = '';
  #events: EngineEvents | null = null;
  #closed = false;

  private constructor(o: DockerRuntimeOptions) {
    this.#o = o;
    this.#diskUsage = new DiskUsageCache(o.diskUsageTtlMs ?? 30_000);
    this.#docker = engineFor(o.dockerHost);
  }

  /** True when an engine answers at the address within the timeout (`engineProbeTimeoutMs`; used by `--runtime auto`). */
  static async probe(dockerHost: string | null, timeoutMs: number): Promise<boolean> {
    // The request is given up at the bound, not left open on an engine that took it and never answers.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const docker = engineFor(dockerHost);
    // dockerode's types leave out ping's options; it hands `abortSignal` on to the request.
    const ping = docker.ping.bind(docker) as unknown as (o: { abortSignal: AbortSignal }) => Promise<unknown>;
    try {
      await ping({ abortSignal: abort.signal });
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  static async open(o: DockerRuntimeOptions): Promise<DockerRuntime> {
    const r = new DockerRuntime(o);
    r.#runtimeId = await openRuntimeRoot(o.root);
    // Bounded: an engine that takes the request and never answers would hold the agent's start for good.
    const answerMs = o.readTimeoutMs ?? 60_000;
    if (
      (await within(
        r.#docker.ping().then(() => true),
        answerMs,
        false,
      )) === false
    )
      throw new Error(`no answer within ${answerMs / 1000}s`);
    r.#events = new EngineEvents(r.#docker, r.#runtimeId, answerMs, (id) => {
      for (const l of r.#exitListeners) l(id);
    });
    r.#events.watch();
    return r;
  }

  #dir(id: number): { base: string; disk: string; meta: string } {
    return instancePaths(this.#o.root, id);
  }

  get #readTimeoutMs(): number {
    return this.#o.readTimeoutMs ?? 60_000;
  }

  #name(id: number): string {
    return `gantry-${this.#runtimeId.slice(0, 8)}-${id}`;
  }

  async #state(id: number): Promise<{ running: boolean; exitCode: number | null } | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        const info = await this.#docker.getContainer(this.#name(id)).inspect();
        // A container the engine could not start (a port taken, a bad mount) never ran: it has no exit code, not 0.
        const ran = info.State.Status !== 'created' && !info.State.StartedAt.startsWith('0001-');
        return { running: info.State.Running, exitCode: ran ? info.State.ExitCode : null };
      } catch (err) {
        if (statusOf(err) === 404) return null;
        // Podman answers 500 "read /proc/<pid>/cgroup: no such process" while a container's process is
        // exiting: a passing state of the engine, so a read-only inspect is simply asked again.
        if (statusOf(err) === 500 && attempt < INSPECT_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 50 * attempt));
          continue;
        }
        throw err;
      }
    }
  }

  async setSshKeys(instanceId: number, keys: readonly string[]): Promise<void> {
    await writeAuthorizedKeys(this.#dir(instanceId).disk, keys);
  }

  /** One at a time per instance: a second start (a retried step) finds the first's container and adopts it. */
  start(spec: WorkloadSpec): Promise<void> {
    return this.#starts.run(spec.instanceId, () => this.#start(spec));
  }

  async #start(spec: WorkloadSpec): Promise<void> {
    const id = spec.instanceId;
    const existing = await this.#state(id);
    if (existing?.running === true) return; // adopt
    const { disk, meta } = this.#dir(id);
    for (const d of [disk, meta]) await mkdir(d, { recursive: true });
    await writeAuthorizedKeys(disk, spec.sshKeys);
    await Promise.all(['exit_code', 'onstart_exit_code'].map((f) => unlinkEntry(join(meta, f))));
    // The container writes into meta (its exit codes) too: no link it left there is followed.
    await writeInside(meta, ['onstart.sh'], spec.onstart ?? '', { mode: 0o644, dirMode: 0o755 });
    await writeInside(meta, ['started'], String(Date.now()), { mode: 0o644, dirMode: 0o755 });
    // A stopped container starts again with its filesystem; a new one is created from the image.
    if (existing === null) await this.#create(spec);
    await this.#docker.getContainer(this.#name(id)).start();
  }

  async #create(asked: WorkloadSpec): Promise<void> {
    const spec = { ...asked, image: await imageToRun(this.#docker, asked) };
    await this.#ensureImage(spec);
    const { disk, meta } = this.#dir(spec.instanceId);
    const env: Record<string, string> = { ...spec.env, GANTRY_RUNTYPE: spec.runtype };
    const gpus = this.#o.nvidiaGpus ? spec.gpuIndices : [];
    // Inside the container the GPUs handed over are numbered from 0; the host indices mean nothing there.
    if (gpus.length > 0) env.CUDA_VISIBLE_DEVICES = gpus.map((_, i) => i).join(',');
    const first = spec.ports[0];
    if (first !== undefined) env.PORT = String(first.containerPort);
    // A serverless worker serves inside the container; the engine reaches it on the published host port.
    if (first !== undefined && env.WORKER_PORT !== undefined) env.WORKER_PORT = String(first.containerPort);
    // A code deployment's worker library serves its internal routes on WORKER_HTTP_PORT (a published host port): inside, its container port.
    const http = spec.ports.find((p) => String(p.hostPort) === env.WORKER_HTTP_PORT);
    if (http !== undefined) env.WORKER_HTTP_PORT = String(http.containerPort);
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostPort: string }[]> = {};
    for (const p of spec.ports) {
      exposed[`${p.containerPort}/${p.proto}`] = {};
      bindings[`${p.containerPort}/${p.proto}`] = [{ HostPort: String(p.hostPort) }];
    }
    // With neither onstart nor a command, the image's own entrypoint runs (a service image such as nginx).
    const wrap = spec.onstart !== null || spec.command.length > 0;
    // Volumes: each one's folder on this host, bound at its mount path (their data outlives the container).
    const volumeBinds: string[] = [];
    for (const v of spec.volumes ?? []) volumeBinds.push(`${await ensureVolumeDir(volumeRootOf(this.#o.root), v.volumeId)}:${containerPath(v.mountPath)}`);
    await this.#docker.createContainer({
      name: this.#name(spec.instanceId),
      Image: spec.image,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { [LABEL_RUNTIME]: this.#runtimeId, [LABEL_INSTANCE]: String(spec.instanceId) },
      WorkingDir: '/workspace',
      ExposedPorts: exposed,
      ...(wrap && { Entrypoint: ['/bin/sh', '-c', CONTAINER_WRAPPER, 'gantry-wrapper'], Cmd: [...spec.command] }),
      HostConfig: {
        Binds: [`${disk}:/workspace`, `${meta}:/.gantry`, ...volumeBinds],
        PortBindings: bindings,
        ...(gpus.length > 0 && { DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: gpus.map(String), Capabilities: [['gpu']] }] }),
      },
    });
  }

  #ensureImage(spec: WorkloadSpec): Promise<void> {
    const say = (msg: string): void => {
      for (const l of this.#progressListeners) l(spec.instanceId, msg);
    };
    return ensureImage(this.#docker, spec.image, say, this.#o.pullStallMs ?? 900_000);
  }

  async inspect(id: number): Promise<Observation> {
    const { meta } = this.#dir(id);
    const s = await this.#state(id);
    if (s?.running === true) return { state: 'running', onstartExitCode: await readCode(join(meta, 'onstart_exit_code')) };
    const started = await stat(join(meta, 'started'))
      .then(() => true)
      .catch(() => false);
    if (!started || s === null) return { state: 'absent' };
    return { state: 'exited', exitCode: (await readCode(join(meta, 'exit_code'))) ?? s.exitCode };
  }

  #stopStrays(id: number): void {
    if (this.#strays.has(id)) return;
    this.#strays.add(id);
    // A failure is tried again at the next listing; so is a stop the engine took and never answered, once its
    // grace and a read's bound are past (held here, it kept the instance's strays from every later listing).
    const t = Math.max(1, Math.ceil((this.#o.strayGraceMs ?? 1000) / 1000));
    const stopping = stopOthersLabelled(this.#docker, this.#runtimeId, id, this.#name(id), t).catch(() => undefined);
    void within(stopping, t * 1000 + (this.#o.readTimeoutMs ?? 60_000), undefined).finally(() => this.#strays.delete(id));
  }

  async stop(id: number, o: StopOptions): Promise<Observation> {
    const t = Math.max(1, Math.ceil(o.graceMs / 1000));
    // Any other container labelled as the instance too, meanwhile; settled (never a stray rejection), told after our own stop.
    const others = stopOthersLabelled(this.#docker, this.#runtimeId, id, this.#name(id), t).then(
      () => null,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    const own = await this.#stopOwn(id, t);
    const failed = await others;
    if (failed !== null) throw failed;
    return own;
  }

  async #stopOwn(id: number, t: number): Promise<Observation> {
    // The engine sends SIGTERM, waits t seconds, then SIGKILL (a paused container is thawed first).
    await stopContainer(this.#docker, this.#name(id), t);
    const deadline = Date.now() + this.#o.killWaitMs;
    // The engine answers once the container stopped: the first look almost always finds it so; back off to pollMs.
    for (let wait = 2; ; wait *= 2) {
      const s = await this.#state(id);
      if (s === null || !s.running) break;
      if (Date.now() > deadline) return this.inspect(id);
      await new Promise((r) => setTimeout(r, Math.min(wait, this.#o.pollMs)));
    }
    // A stopped workload is "absent": its exit code belonged to the run that was stopped.
    await unlinkEntry(join(this.#dir(id).meta, 'started')); // unlink(2): never fs.rm on what a container can write
    return { state: 'absent' };
  }

  async destroy(id: number, o: StopOptions): Promise<Observation> {
    const after = await this.stop(id, o);
    if (after.state === 'running') return after;
    await this.#remove(id);
    await rm(this.#dir(id).base, { recursive: true, force: true });
    this.#cpuSamples.delete(id);
    this.#diskUsage.forget(id);
    return { state: 'absent' };
  }

  /** The instance's container, and any other labelled as it: none is left running unseen. */
  async #remove(id: number): Promise<void> {
    await removeLabelled(this.#docker, this.#runtimeId, id, this.#name(id));
  }

  /** Recycle: a fresh container from the image and an empty disk. */
  async wipeDisk(id: number): Promise<void> {
    await this.#remove(id);
    const { disk } = this.#dir(id);
    await rm(disk, { recursive: true, force: true });
    await mkdir(disk, { recursive: true });
    this.#diskUsage.forget(id);
  }

  async logs(id: number, tail: number): Promise<string> {
    const text = new NewestText(MAX_LOG_BYTES);
    try {
      await readEngineLogs(this.#docker, this.#name(id), { tail }, text, this.#readTimeoutMs);
      return text.text();
    } catch (err) {
      if (statusOf(err) === 404) return '';
      throw err;
    }
  }

  async logLines(id: number, q: LogQuery): Promise<LogLine[]> {
    if (q.tail <= 0) return [];
    // The engine takes whole seconds: ask a little wider and cut to the millisecond here. Its tail is
    // applied before `until`, so with an upper bound the tail is cut here as well.
    const window = {
      ...(q.since !== undefined && { since: Math.max(0, Math.floor(q.since / 1000)) }),
      ...(q.until !== undefined && { until: Math.ceil(q.until / 1000) + 1 }),
      ...(q.until === undefined && { tail: q.tail }),
    };
    const lines = new NewestLines(q, MAX_LOG_BYTES);
    try {
      await readEngineLogs(this.#docker, this.#name(id), { timestamps: true, ...window }, lines, this.#readTimeoutMs);
      return lines.lines();
    } catch (err) {
      if (statusOf(err) === 404) return [];
      throw err;
    }
  }

  async list(): Promise<number[]> {
    const ids = new Set<number>();
    const containers = await this.#docker.listContainers({ all: true, filters: { label: [`${LABEL_RUNTIME}=${this.#runtimeId}`] } });
    for (const c of containers) {
      const v = Number(c.Labels[LABEL_INSTANCE]);
      if (Number.isSafeInteger(v) && v > 0) ids.add(v);
    }
    // Another container labelled as an instance (made by hand on the host) is never taken for it: it is
    // stopped here, in the background (a listing is bounded), from what this listing already holds, whether
    // the instance's own runs or not (beside a running one it used the instance's GPUs and disk unbilled).
    // Taken for the instance, it kept a stopped instance billed, stood in for a start, and hid an exit.
    for (const id of withStrays(containers, (i) => this.#name(i))) this.#stopStrays(id);
    for (const id of await instanceDirs(this.#o.root)) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  async usage(id: number): Promise<Usage | null> {
    const s = await this.#state(id);
    if (s?.running !== true) return null;
    const st = (await this.#docker.getContainer(this.#name(id)).stats({ stream: false })) as {
      cpu_stats?: { cpu_usage?: { total_usage?: number } };
      memory_stats?: { usage?: number };
    };
    const ns = st.cpu_stats?.cpu_usage?.total_usage ?? 0;
    const now = Date.now();
    const sample = { cpuMs: ns / 1e6, at: now };
    const cpuUtil = cpuPercent(this.#cpuSamples.get(id), sample);
    this.#cpuSamples.set(id, sample);
    const memUsageMb = (st.memory_stats?.usage ?? 0) / 1e6;
    return { cpuUtil, memUsageMb: Math.round(memUsageMb * 10) / 10, diskUsageMb: await this.#diskUsage.mb(id, this.#dir(id).disk, now) };
  }

  /** A command in the running container (SSH sessions, `execute`): its env, user and working directory are the workload's. */
  exec(instanceId: number, r: ExecRequest): Promise<ExecProcess> {
    return containerExec(this.#docker, this.#name(instanceId), r, this.#o.readTimeoutMs);
  }

  storage(c: StorageCommand): Promise<unknown> {
    return dockerStorage(this.#docker, volumeRootOf(this.#o.root), c, (id) => this.#name(id));
  }

  onExit(listener: (instanceId: number) => void): void {
    this.#exitListeners.push(listener);
  }

  onProgress(listener: (instanceId: number, message: string) => void): void {
    this.#progressListeners.push(listener);
  }

  async close(): Promise<void> {
    // Containers are left running on purpose: they outlive the agent and are adopted again.
    this.#closed = true;
    this.#events?.close();
    await Promise.resolve();
  }
}

import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Observation } from '../../domain/instance/reconcile.js';
import { selectLines } from '../log-lines.js';
import type { ExecProcess, ExecRequest, LogLine, LogQuery, Runtime, StopOptions, Usage, WorkloadSpec } from '../runtime.js';
import { CLOCK_TICKS, killChildGroup, leaderFamily, trySignal } from './first-signal.js';
import { allGone, instanceProcs, ProcTable, readGroup, startTicksOf, type ProcInfo } from './proc-table.js';
import { bwrapArgs, spawned } from './sandbox.js';
import { handoffDir, openHandoffDir, spawnSandboxed, type SpawnOptions } from './sandbox-env.js';
import { clearExitCodes, wrapperEnv, writeRunFiles } from './wrapper.js';
import { shellJoin, writeAccounts } from './session-files.js';
import { authorizedKeysText, cpuPercent, DiskUsageCache, instanceDirs, instancePaths, openRuntimeRoot, writeAuthorizedKeys } from '../files.js';
import { LINK_VOLUMES_SCRIPT, processStorage, removeCutSnapshots, saveBinds, savedBinds, seedFromSnapshot, volumeBinds } from './process-storage.js';
import type { StorageCommand } from '../storage.js';
import { readCode, readStamped } from './workload-files.js';
import { OneAtATime } from '../one-at-a-time.js';
import { forgetKeys, keysInPlace, nothingToWrite, recordKeys, SessionLedger, WRITE_KEYS_SCRIPT } from './keys-record.js';
import type { ProcessRuntimeOptions } from './options.js';
export type { ProcessRuntimeOptions, ProcessSandbox } from './options.js';

/** After the leader ended: how often, and for how long, the rest of a stopping group is looked at (a few /proc reads each). */
const FOLLOW_MS = 2;
const FOLLOW_WINDOW_MS = 250;

/**
 * Runs each instance as a process group in its own directory. Processes are labelled through
 * their environment (GANTRY_RUNTIME_ID, GANTRY_INSTANCE_ID) so they are found again after Gantry
 * restarts, and never confused with another Gantry's workloads on the same machine.
 */
export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  readonly imageNotice = 'process runtime: the image is recorded but not pulled; commands run in the host environment';
  readonly #o: ProcessRuntimeOptions;
  readonly #procs: ProcTable;
  readonly #exitListeners: ((id: number) => void)[] = [];
  /** Stops waiting for a workload this process started: its leader's exit ends their wait at once. */
  readonly #stopWaiters = new Map<number, Set<(early: boolean) => void>>();
  /** Leaders this process started that have not exited, by instance: a stop signals their groups before it scans. */
  readonly #leaders = new Map<number, number>();
  readonly #cpuSamples = new Map<number, { cpuMs: number; at: number }>();
  /** SSH key writes, one at a time per instance (setSshKeys). */
  readonly #sshWrites = new OneAtATime<number>();
  /** Starts, one at a time per instance: a second one (a retried step) finds the first's workload and adopts it. */
  readonly #starts = new OneAtATime<number>();
  readonly #sessions = new SessionLedger();
  readonly #diskUsage: DiskUsageCache;
  #runtimeId = '';

  private constructor(o: ProcessRuntimeOptions) {
    this.#o = o;
    this.#procs = new ProcTable(200, { uids: (o.sandbox?.uidBase ?? null) !== null });
    this.#diskUsage = new DiskUsageCache(o.diskUsageTtlMs ?? 30_000);
  }

  static async open(o: ProcessRuntimeOptions): Promise<ProcessRuntime> {
    const r = new ProcessRuntime(o);
    r.#runtimeId = await openRuntimeRoot(o.root);
    if (o.sandbox !== undefined) await openHandoffDir(o.root);
    await removeCutSnapshots(o.root);
    return r;
  }

  /** Whether workloads run sandboxed (reported to the control plane: unsandboxed hosts take only their owner's instances). */
  get sandboxed(): boolean {
    return this.#o.sandbox !== undefined;
  }

  /** `out` is the only folder of its own the workload may write besides its disk (exit codes, output). */
  #dir(id: number): { base: string; disk: string; meta: string; out: string } {
    const p = instancePaths(this.#o.root, id);
    return { ...p, out: join(p.meta, 'out') };
  }

  /** Where the wrapper of the current run writes: `meta/out`, or `meta` for a workload started before `out` existed. */
  async #outOf(id: number): Promise<string> {
    const { meta, out } = this.#dir(id);
    return stat(out)
      .then(() => out)
      .catch(() => meta);
  }

  #ids(id: number): { uid: number; gid: number } | null {
    const base = this.#o.sandbox?.uidBase ?? null;
    return base === null ? null : { uid: base + id, gid: base + id };
  }

  /** The instance's folders. With a uid per instance: disk and `out` are its own (0700); `meta` is Gantry's, readable by its group. */
  async #prepare(id: number): Promise<{ disk: string; meta: string; out: string }> {
    const { disk, meta, out } = this.#dir(id);
    await mkdir(disk, { recursive: true, mode: 0o700 });
    await mkdir(out, { recursive: true, mode: 0o700 });
    const ids = this.#ids(id);
    if (ids !== null) {
      await chown(meta, 0, ids.gid);
      await chmod(meta, 0o750);
      for (const d of [disk, out]) {
        await chown(d, ids.uid, ids.gid);
        await chmod(d, 0o700);
      }
      await writeAccounts(meta, ids, disk);
    }
    return { disk, meta, out };
  }

  /** Spawn `command` in this instance's sandbox (as its uid), or plainly when there is none. */
  #spawn(
    id: number,
    command: readonly string[],
    o: SpawnOptions & { binds?: readonly { source: string; target: string }[]; dieWithParent?: boolean },
  ): ReturnType<typeof spawn> {
    const { disk, meta, out } = this.#dir(id);
    const sb = this.#o.sandbox;
    if (sb === undefined) return spawn(command[0] as string, command.slice(1), { cwd: disk, env: o.env, detached: o.detached, stdio: o.stdio });
    const args = bwrapArgs(
      { dataDir: sb.dataDir, disk, meta, out, readOnly: sb.readOnly, hidden: sb.hidden, devices: sb.devices, identity: this.#ids(id), binds: o.binds ?? [] },
      command,
      { dieWithParent: o.dieWithParent === true, ...(this.#ids(id) !== null && { accounts: { passwd: join(meta, 'passwd'), group: join(meta, 'group') } }) },
    );
    return spawnSandboxed(args, { env: o.env, path: this.#path, handoffDir: handoffDir(this.#o.root), detached: o.detached, stdio: o.stdio });
  }

  /** Where the agent finds its own programs (bwrap among them): never a workload's PATH. */
  get #path(): string {
    return this.#o.baseEnv['PATH'] ?? '/usr/bin:/bin';
  }

  async #live(id: number): Promise<ProcInfo[]> {
    const table = await this.#procs.snapshot();
    const read = (f: string): Promise<string> => readFile(join(this.#dir(id).meta, f), 'utf8').catch(() => '');
    const group = readGroup(await read('pgid'), await read('leader-start'));
    return instanceProcs(table, this.#runtimeId, id, group, this.#ids(id)?.uid ?? null);
  }

  /** One write at a time per instance, in the order asked: a start's and an added account key's sandboxed writes of one temporary file raced (one `mv` failed, and the start with it). */
  setSshKeys(instanceId: number, keys: readonly string[]): Promise<void> {
    return this.#sshWrites.run(instanceId, () => this.#writeSshKeys(instanceId, keys, false));
  }

  /** `atStart`: the folders were just prepared, and keys the very file already holds need no write (keys-record.ts). */
  async #writeSshKeys(instanceId: number, keys: readonly string[], atStart: boolean): Promise<void> {
    const { disk, meta } = this.#dir(instanceId);
    if (this.#o.sandbox === undefined) return writeAuthorizedKeys(disk, keys);
    if (!atStart) await this.#prepare(instanceId);
    const text = authorizedKeysText(keys);
    const uid = this.#ids(instanceId)?.uid ?? process.getuid?.() ?? 0;
    if (atStart && ((await nothingToWrite(disk, text)) || (await keysInPlace(disk, meta, text, uid)))) return;
    await forgetKeys(meta);
    const mark = this.#sessions.mark(instanceId);
    await this.#inSandbox(instanceId, ['sh', '-c', WRITE_KEYS_SCRIPT], text, "writing the instance's SSH keys");
    // Only a start records (its workload runs after this), and only with no session open or begun meanwhile.
    if (atStart) await recordKeys(disk, meta, text, uid, () => this.#sessions.quietSince(instanceId, mark));
  }

  /** Run a short command in the instance's sandbox, as its uid: the disk is the tenant's, and a link there cannot send it elsewhere. */
  async #inSandbox(id: number, argv: string[], input: string, what: string): Promise<void> {
    const child = this.#spawn(id, argv, { env: { PATH: this.#path }, detached: false, stdio: 'pipe' });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => void (err.length < 1000 && (err += d.toString())));
    child.stdin?.end(input);
    const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
    if (code !== 0) throw new Error(`${what} failed (exit ${String(code)})${err.trim() === '' ? '' : `: ${err.trim().slice(0, 300)}`}`);
  }

  async exec(instanceId: number, r: ExecRequest): Promise<ExecProcess> {
    const { disk, meta } = await this.#prepare(instanceId);
    // A session (ssh, execute, copy) sees the instance's volumes where its workload sees them.
    const binds = await savedBinds(this.#o.root, meta);
    // A terminal through util-linux `script` (no native pty module): it runs the command on a new pty with this size.
    const argv =
      r.tty === null ? r.argv : ['script', '-qfec', `stty rows ${r.tty.rows} cols ${r.tty.cols} 2>/dev/null; exec ${shellJoin(r.argv)}`, '/dev/null'];
    const env = { ...this.#o.baseEnv, HOME: disk, SHELL: '/bin/bash', ...r.env, ...(r.tty !== null && { TERM: r.tty.term }) };
    const child = this.#spawn(instanceId, argv, { env, detached: true, stdio: 'pipe', dieWithParent: true, binds });
    const end = this.#sessions.begin(instanceId); // in the spawn's own tick: a start's record, after any await, sees it
    const done = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    ).finally(end);
    await spawned(child).catch((err: unknown) => {
      end();
      throw err;
    });
    return {
      stdin: child.stdin as NonNullable<typeof child.stdin>,
      stdout: child.stdout as NonNullable<typeof child.stdout>,
      stderr: child.stderr as NonNullable<typeof child.stderr>,
      done,
      kill: () => killChildGroup(child),
    };
  }

  start(spec: WorkloadSpec): Promise<void> {
    return this.#starts.run(spec.instanceId, () => this.#start(spec));
  }

  async #start(spec: WorkloadSpec): Promise<void> {
    this.#procs.invalidate();
    if ((await this.#live(spec.instanceId)).length > 0) return; // already running: adopt
    const { disk, meta, out } = await this.#prepare(spec.instanceId);
    // The last run's exit codes go first: a look meanwhile would take the start's own processes (the keys'
    // write, as the instance's uid) for what an ended run left, and end them. (A start that fails after this
    // leaves an ended run's code unknown; the start's own error is what is recorded.)
    await clearExitCodes(meta, out);
    await seedFromSnapshot(this.#o.root, spec, { disk, meta }, this.#ids(spec.instanceId));
    await this.#sshWrites.run(spec.instanceId, () => this.#writeSshKeys(spec.instanceId, spec.sshKeys, true));
    const sandboxed = this.#o.sandbox !== undefined;
    const { binds, links } = await volumeBinds(this.#o.root, spec, { disk, meta }, { sandboxed, ids: this.#ids(spec.instanceId) });
    await saveBinds(meta, binds);
    const pairs = links.flatMap((l) => [l.path, l.target]);
    if (pairs.length > 0) await this.#inSandbox(spec.instanceId, ['sh', '-c', LINK_VOLUMES_SCRIPT, 'sh', ...pairs], '', "linking the instance's volumes");
    await writeRunFiles(meta, spec.onstart);
    // Only the wrapper's own complaints land here: the workload's output goes through its stamping filters.
    const log = await open(join(meta, 'wrapper.log'), 'a');
    try {
      const child = this.#spawn(spec.instanceId, ['bash', join(meta, 'run.sh'), ...spec.command], {
        env: wrapperEnv(this.#o.baseEnv, spec, { disk, meta, out, runtimeId: this.#runtimeId, logStamper: this.#o.logStamper ?? 'auto' }),
        detached: true, // its own process group and session: it outlives Gantry, and stop signals the whole group
        stdio: ['ignore', log.fd, log.fd],
        binds,
      });
      await spawned(child);
      this.#leaders.set(spec.instanceId, child.pid as number);
      child.once('exit', () => {
        if (this.#leaders.get(spec.instanceId) === child.pid) this.#leaders.delete(spec.instanceId);
        this.#procs.invalidate();
        for (const l of this.#exitListeners) l(spec.instanceId);
        for (const wake of this.#stopWaiters.get(spec.instanceId) ?? []) wake(true);
      });
      child.unref();
      // With the leader's start time, first: once the workload ended, its id may lead another group (proc-table.ts).
      await writeFile(join(meta, 'leader-start'), String(startTicksOf(child.pid as number) ?? ''));
      await writeFile(join(meta, 'pgid.tmp'), String(child.pid));
      await rename(join(meta, 'pgid.tmp'), join(meta, 'pgid'));
    } finally {
      await log.close();
    }
    this.#procs.invalidate();
  }

  async inspect(id: number): Promise<Observation> {
    const { meta } = this.#dir(id);
    const out = await this.#outOf(id);
    if ((await this.#live(id)).length > 0) {
      // The main command ended over a second ago, yet what it left behind (holding its output open) still runs:
      // the workload ended, as a container does with its main process, and so does what it left.
      const ended = await readCode(join(out, 'exit_code'), { writtenBefore: Date.now() - 1_000 });
      // A second's grace, then SIGKILL (a container's leftovers get no grace): a look stays well within agentCallTimeoutMs.
      const gone = async (): Promise<boolean> =>
        (await this.#signalUntilGone(id, 'SIGTERM', 1_000)) || this.#signalUntilGone(id, 'SIGKILL', this.#o.killWaitMs);
      if (ended === null || !(await gone())) {
        return { state: 'running', onstartExitCode: await readCode(join(out, 'onstart_exit_code')) };
      }
      return { state: 'exited', exitCode: ended };
    }
    const started = await stat(join(meta, 'started'))
      .then(() => true)
      .catch(() => false);
    if (!started) return { state: 'absent' };
    return { state: 'exited', exitCode: await readCode(join(out, 'exit_code')) };
  }

  async stop(id: number, o: StopOptions): Promise<Observation> {
    this.#procs.invalidate();
    if (await this.#signalUntilGone(id, 'SIGTERM', o.graceMs)) return this.#afterStop(id);
    if (await this.#signalUntilGone(id, 'SIGKILL', this.#o.killWaitMs)) return this.#afterStop(id);
    return this.inspect(id);
  }

  async #afterStop(id: number): Promise<Observation> {
    // A stopped workload is "absent": its exit code, if any, belonged to the run that was stopped.
    await rm(join(this.#dir(id).meta, 'started'), { force: true });
    return { state: 'absent' };
  }

  /**
   * Signal every group of the workload, then wait up to `waitMs` for all of it to be gone. The wait
   * watches the signalled processes themselves (a read of their /proc entries, soon after the signal
   * and then backing off to pollMs), not the whole process table; once they are gone one full scan
   * confirms it, and a process it still finds (one that left the group) is signalled in turn.
   */
  async #signalUntilGone(id: number, signal: NodeJS.Signals, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    const signalled = new Set<string>();
    let wait = 1;
    let rescanMs = 25;
    /** Once the leader has ended, until when the rest of the group is looked at every FOLLOW_MS. */
    let followUntil = -1;
    // Groups signalled as a whole; the leader's family is signalled before the scan, and its members in them got it.
    const reached = new Set<number>();
    const leader = this.#leaders.get(id);
    const family = leader !== undefined ? leaderFamily(leader) : { groups: [], members: new Set<number>() };
    for (const g of family.groups) reached.add(g);
    for (const g of reached) trySignal(-g, signal);
    for (let live = await this.#live(id); live.length > 0; live = await this.#live(id)) {
      for (const p of live) if (reached.has(p.pgrp) && family.members.has(p.pid)) signalled.add(`${p.pid}:${p.startTicks}`);
      const fresh = live.filter((p) => !signalled.has(`${p.pid}:${p.startTicks}`));
      // One signal per process: each process group once, then directly a process without a usable group or one
      // that joined a group after its signal (a second signal to the whole group could end a graceful stop early).
      const before = new Set(reached);
      for (const g of new Set(fresh.map((p) => p.pgrp).filter((g) => g > 1 && !before.has(g)))) {
        trySignal(-g, signal);
        reached.add(g);
      }
      for (const p of fresh) if (p.pgrp <= 1 || before.has(p.pgrp)) trySignal(p.pid, signal);
      for (const p of live) signalled.add(`${p.pid}:${p.startTicks}`);
      // Look again for the workload's processes now and then, not only once these are gone: one forked just
      // as the signal went out (a shell mid-fork, a trap that starts a process) never got it, and a process
      // that waits for it (the sandbox's outer process waits for every process inside) would wait the whole grace.
      for (let waited = 0; !allGone(live) && waited < rescanMs;) {
        if (Date.now() >= deadline) return false;
        // A leader that ended before this wait began (signalled before the scan) is followed from the start.
        if (followUntil < 0 && leader !== undefined && this.#leaders.get(id) !== leader) [followUntil, wait] = [Date.now() + FOLLOW_WINDOW_MS, FOLLOW_MS];
        const step = Math.min(wait, this.#o.pollMs);
        if ((await this.#pause(id, step)) && followUntil < 0) followUntil = Date.now() + FOLLOW_WINDOW_MS;
        waited += step;
        // The leader (the wrapper) ends first; the workload and the log stamper after its last line follow
        // within milliseconds: looked at every FOLLOW_MS then, not at the next doubled wait.
        wait = Date.now() < followUntil ? FOLLOW_MS : wait * 2;
      }
      rescanMs = Math.min(2 * rescanMs, 1_000); // a full scan costs tens of ms on a busy host: less often as the wait goes on
      this.#procs.invalidate();
    }
    return true;
  }

  /** `ms`, or less when the workload's leader (started by this process) exits meanwhile: then true. */
  #pause(id: number, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const set = this.#stopWaiters.get(id) ?? new Set();
      this.#stopWaiters.set(id, set);
      const wake = (early: boolean): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) this.#stopWaiters.delete(id);
        resolve(early);
      };
      const timer = setTimeout(() => wake(false), ms);
      set.add(wake);
    });
  }

  async destroy(id: number, o: StopOptions): Promise<Observation> {
    const after = await this.stop(id, o);
    if (after.state === 'running') return after;
    await rm(this.#dir(id).base, { recursive: true, force: true });
    this.#cpuSamples.delete(id);
    this.#diskUsage.forget(id);
    this.#sessions.forget(id);
    return { state: 'absent' };
  }

  async wipeDisk(id: number): Promise<void> {
    const { disk, meta } = this.#dir(id);
    await forgetKeys(meta);
    await rm(disk, { recursive: true, force: true });
    await this.#prepare(id);
  }

  async logs(id: number, tail: number): Promise<string> {
    const lines = await this.logLines(id, { tail });
    return lines.map((l) => l.text + '\n').join('');
  }

  async logLines(id: number, q: LogQuery): Promise<LogLine[]> {
    if (q.tail <= 0) return [];
    return selectLines(await readStamped(join(await this.#outOf(id), 'output.log')), q);
  }

  async list(): Promise<number[]> {
    const table = await this.#procs.snapshot();
    const ids = new Set<number>();
    for (const p of table) if (p.runtimeId === this.#runtimeId && p.instanceId !== null && p.state !== 'Z') ids.add(p.instanceId);
    for (const id of await instanceDirs(this.#o.root)) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  async usage(id: number): Promise<Usage | null> {
    const live = await this.#live(id);
    if (live.length === 0) return null;
    const ticks = live.reduce((s, p) => s + p.cpuTicks, 0);
    const now = Date.now();
    const sample = { cpuMs: (ticks / CLOCK_TICKS) * 1000, at: now };
    const cpuUtil = cpuPercent(this.#cpuSamples.get(id), sample);
    this.#cpuSamples.set(id, sample);
    const memUsageMb = (live.reduce((s, p) => s + p.rssPages, 0) * 4096) / 1e6;
    return { cpuUtil, memUsageMb: Math.round(memUsageMb * 10) / 10, diskUsageMb: await this.#diskUsage.mb(id, this.#dir(id).disk, now) };
  }

  onExit(listener: (instanceId: number) => void): void {
    this.#exitListeners.push(listener);
  }

  storage(c: StorageCommand): Promise<unknown> {
    return processStorage(this.#o.root, c, (id) => this.#dir(id).disk);
  }

  async close(): Promise<void> {
    // Workloads are left running on purpose: they outlive the control plane and are re-adopted.
  }
}

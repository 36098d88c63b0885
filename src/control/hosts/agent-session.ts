import { randomBytes } from 'node:crypto';
import { STEP_TIMED_OUT } from '../../domain/instance/observed-record.js';
import type { Observation } from '../../domain/instance/reconcile.js';
import { GantryError, isErrorCode, type ErrorCode } from '../../domain/errors.js';
import { asLogLine } from '../../runtime/log-lines.js';
import type { LogLine, LogQuery, StopOptions, WorkloadSpec } from '../../runtime/runtime.js';
import type { HostLink, HostListing } from './hosts.js';
import { asListing, observed } from './agent-answers.js';
import type { StorageCommand } from '../../runtime/storage.js';
import type { CopyGrant, CopyOrder, CopyReport } from './copy-order.js';

/** One runtime call the control plane asks an agent to make; answered by a result with the same id. */
export type AgentCommand =
  | { readonly id: string; readonly op: 'start'; readonly spec: WorkloadSpec }
  | { readonly id: string; readonly op: 'inspect' | 'wipeDisk'; readonly instanceId: number }
  | { readonly id: string; readonly op: 'stop' | 'destroy'; readonly instanceId: number; readonly graceMs: number }
  | { readonly id: string; readonly op: 'logs'; readonly instanceId: number; readonly tail: number }
  | { readonly id: string; readonly op: 'logLines'; readonly instanceId: number; readonly query: LogQuery }
  | { readonly id: string; readonly op: 'setSshKeys'; readonly instanceId: number; readonly keys: readonly string[] }
  | { readonly id: string; readonly op: 'storage'; readonly cmd: StorageCommand }
  | {
      readonly id: string;
      readonly op: 'exec';
      readonly instanceId: number;
      readonly argv: readonly string[];
      readonly timeoutMs: number;
      readonly maxBytes: number;
    }
  // observe: each workload with its observation (the host sweep); agents before it ignore the flag and answer bare ids.
  | { readonly id: string; readonly op: 'list'; readonly observe?: boolean }
  // Copies between instances (copy-order.ts): run by the source's agent; granted and cancelled by the destination's.
  | { readonly id: string; readonly op: 'copy'; readonly order: CopyOrder }
  | { readonly id: string; readonly op: 'copyGrant'; readonly instanceId: number; readonly ttlMs: number }
  | { readonly id: string; readonly op: 'cancelCopies'; readonly instanceId: number };

export type AgentCommandInput = AgentCommand extends infer C ? (C extends AgentCommand ? Omit<C, 'id'> : never) : never;

export interface AgentResult {
  readonly id: string;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
  /** A failure's code, where it is one the control plane acts on (AGENT_ERROR_CODES); others are dropped. */
  readonly code?: string;
}

/**
 * The codes an agent may give a failure. Only these: a host is not trusted to say a failure is, say,
 * HOST_UNAVAILABLE, which the reconciler treats as "record nothing". Agents that predate a code send none,
 * and their failure stays a plain one (its message shown), as before.
 */
export const AGENT_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['SSH_PORT_TAKEN']);

export interface SessionTimings {
  /** Bound on a call the agent should answer at once (inspect, list, logs, logLines). */
  readonly callTimeoutMs: number;
  /** Bound on start, stop, destroy and wipeDisk (covers pulls and grace periods); the only bound on a step. */
  readonly stepTimeoutMs: number;
  /** A session whose agent has not polled for this long counts as disconnected. */
  readonly connectedWindowMs: number;
  /** ... or has not sent a heartbeat for this long (the machine is offline). */
  readonly heartbeatWindowMs: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** The poll that handed the command to the agent; null while it waits in the queue. */
  takenBy: number | null;
}

function sameListing(a: HostListing, b: HostListing): boolean {
  const x = a.observed ?? [];
  const y = b.observed ?? [];
  if (a.observed === null || b.observed === null || x.length !== y.length) return false;
  return x.every((w, i) => w.id === y[i]?.id && JSON.stringify(w.observation) === JSON.stringify(y[i]?.observation));
}

/** Runtime steps: a live agent that took one and did not finish it in time failed the step (STEP_TIMEOUT). */
const STEPS: ReadonlySet<AgentCommand['op']> = new Set(['start', 'stop', 'destroy', 'wipeDisk', 'storage']);

/**
 * One connected agent as this replica sees it: a queue of commands the agent long-polls for, and the
 * calls waiting for their results. It is the HostLink of every machine, the embedded one included, and
 * the only bound on its calls.
 */
export class AgentSession implements HostLink {
  readonly id = randomBytes(18).toString('base64url');
  readonly machineId: number;
  readonly imageNotice: string | null;
  /** Highest message sequence number taken in this session; replays and reorderings are refused. */
  lastSeq = 0;
  lastPollAt: number;
  lastHeartbeatAt: number;
  /** From the latest heartbeat: ports of the range the agent could not bind. */
  busyPorts: ReadonlySet<number> = new Set();
  /** The busy ports a heartbeat of this session last stored (sorted, joined); null: none yet. */
  #storedPorts: string | null = null;
  /**
   * Take a heartbeat's busy ports; returns them sorted when the store should get them (they changed, or
   * this is the session's first report: other replicas read them there), else undefined.
   */
  reportBusyPorts(ports: readonly number[] | undefined): number[] | undefined {
    if (ports === undefined) return undefined;
    this.busyPorts = new Set(ports);
    const sorted = [...this.busyPorts].sort((a, b) => a - b);
    return sorted.join(',') === this.#storedPorts ? undefined : sorted;
  }

  /** The store got these busy ports (reportBusyPorts' answer). */
  busyPortsStored(sorted: readonly number[]): void {
    this.#storedPorts = sorted.join(',');
  }

  /** What the store last got from a heartbeat of this session: its GPU figures and when (decision 021). */
  #written: { readonly gpuUtils: string; readonly at: number } | null = null;
  /** The newest listing the agent pushed with a heartbeat (decision 021), and whether a sweep has compared it yet. */
  #pushed: { readonly listing: HostListing; readonly at: number; readonly changed: boolean; fresh: boolean } | null = null;
  readonly #t: SessionTimings;
  readonly #now: () => number;
  #queue: AgentCommand[] = [];
  readonly #pending = new Map<string, Pending>();
  #waiter: (() => void) | null = null;
  #closed: string | null = null;
  /** Polls taken so far: a live agent polls again right after it takes commands. */
  #polls = 0;
  /** Command ids: this session's random prefix and a count (a result for another session's command matches none). */
  readonly #idPrefix = `${randomBytes(6).toString('base64url')}.`;
  #calls = 0;

  constructor(machineId: number, imageNotice: string | null, t: SessionTimings, now: () => number) {
    this.machineId = machineId;
    this.imageNotice = imageNotice;
    this.#t = t;
    this.#now = now;
    this.lastPollAt = now();
    this.lastHeartbeatAt = now();
  }

  /** A silent agent ends its session here, so calls waiting on it fail now instead of at their timeout. */
  connected(): boolean {
    if (this.#closed !== null) return false;
    const now = this.#now();
    if (now - this.lastPollAt > this.#t.connectedWindowMs) this.close('the agent stopped polling');
    else if (now - this.lastHeartbeatAt > this.#t.heartbeatWindowMs) this.close('the agent stopped sending heartbeats');
    return this.#closed === null;
  }

  start(spec: WorkloadSpec): Promise<void> {
    return this.#call({ op: 'start', spec }, this.#t.stepTimeoutMs).then(() => undefined);
  }
  inspect(instanceId: number): Promise<Observation> {
    return this.#call({ op: 'inspect', instanceId }, this.#t.callTimeoutMs).then((v) => observed('inspect', v));
  }
  stop(instanceId: number, o: StopOptions): Promise<Observation> {
    return this.#call({ op: 'stop', instanceId, graceMs: o.graceMs }, this.#t.stepTimeoutMs).then((v) => observed('stop', v));
  }
  destroy(instanceId: number, o: StopOptions): Promise<Observation> {
    return this.#call({ op: 'destroy', instanceId, graceMs: o.graceMs }, this.#t.stepTimeoutMs).then((v) => observed('destroy', v));
  }
  setSshKeys(instanceId: number, keys: readonly string[]): Promise<void> {
    return this.#call({ op: 'setSshKeys', instanceId, keys }, this.#t.callTimeoutMs).then(() => undefined);
  }
  wipeDisk(instanceId: number): Promise<void> {
    return this.#call({ op: 'wipeDisk', instanceId }, this.#t.stepTimeoutMs).then(() => undefined);
  }
  logs(instanceId: number, tail: number): Promise<string> {
    return this.#call({ op: 'logs', instanceId, tail }, this.#t.callTimeoutMs).then((v) => (typeof v === 'string' ? v : ''));
  }
  logLines(instanceId: number, q: LogQuery): Promise<LogLine[]> {
    const query: LogQuery = { tail: q.tail, ...(q.since !== undefined && { since: q.since }), ...(q.until !== undefined && { until: q.until }) };
    return this.#call({ op: 'logLines', instanceId, query }, this.#t.callTimeoutMs).then((v) =>
      Array.isArray(v) ? v.map(asLogLine).filter((l): l is LogLine => l !== null) : [],
    );
  }
  /** Volume folders and snapshots (copies and archives can take long: bound like a step). */
  storage(cmd: StorageCommand): Promise<unknown> {
    return this.#call({ op: 'storage', cmd }, this.#t.stepTimeoutMs);
  }
  /** A command inside the instance (`execute`, copies), through the agent's SSH access; bounded by `timeoutMs` on the host. */
  exec(instanceId: number, argv: readonly string[], o: { timeoutMs: number; maxBytes: number }): Promise<{ code: number | null; output: string }> {
    return this.#call({ op: 'exec', instanceId, argv, timeoutMs: o.timeoutMs, maxBytes: o.maxBytes }, o.timeoutMs + this.#t.callTimeoutMs).then((v) => {
      const r = (typeof v === 'object' && v !== null ? v : {}) as { code?: unknown; output?: unknown };
      return { code: typeof r.code === 'number' ? r.code : null, output: typeof r.output === 'string' ? r.output : '' };
    });
  }
  /** A copy between instances, run by this (the source's) agent; bounded by the order's timeout on the host. */
  copy(order: CopyOrder): Promise<CopyReport> {
    return this.#call({ op: 'copy', order }, order.timeoutMs + this.#t.callTimeoutMs).then((v) => {
      const bytes = (typeof v === 'object' && v !== null ? (v as { bytes?: unknown }).bytes : undefined) ?? 0;
      return { bytes: typeof bytes === 'number' ? bytes : 0 };
    });
  }
  /** A one-time login into one of this host's instances for a copy from another host. */
  copyGrant(instanceId: number, ttlMs: number): Promise<CopyGrant> {
    return this.#call({ op: 'copyGrant', instanceId, ttlMs }, this.#t.callTimeoutMs).then((v) => {
      const g = (typeof v === 'object' && v !== null ? v : {}) as Partial<CopyGrant>;
      if (typeof g.privateKey !== 'string' || typeof g.hostKey !== 'string') throw new Error('the agent answered copyGrant without a key');
      return { privateKey: g.privateKey, hostKey: g.hostKey };
    });
  }
  /** End the copies into one of this host's instances; resolves with how many were running. */
  cancelCopies(instanceId: number): Promise<number> {
    return this.#call({ op: 'cancelCopies', instanceId }, this.#t.callTimeoutMs).then((v) => (typeof v === 'number' ? v : 0));
  }
  list(): Promise<number[]> {
    return this.#call({ op: 'list' }, this.#t.callTimeoutMs).then((v) => (Array.isArray(v) ? v.filter((x): x is number => Number.isSafeInteger(x)) : []));
  }
  /** Every workload with its observation in one call (the host sweep); `observed` is null when the agent answered bare ids. */
  observeAll(): Promise<HostListing> {
    return this.#call({ op: 'list', observe: true }, this.#t.callTimeoutMs).then(asListing);
  }

  /**
   * Whether a heartbeat with these GPU figures (and no usage) says nothing the store does not have, but that the
   * machine is alive: the same figures as the last one written, within `withinMs` of it. Such a heartbeat's
   * liveness is written with others, once per tick (agent-hub.ts); any other is written at once and remembered.
   */
  livenessOnly(gpuUtils: readonly number[] | null, withinMs: number): boolean {
    const w = this.#written;
    return w !== null && this.#now() - w.at < withinMs && w.gpuUtils === JSON.stringify(gpuUtils);
  }
  written(gpuUtils: readonly number[] | null, at: number): void {
    this.#written = { gpuUtils: JSON.stringify(gpuUtils), at };
  }

  /**
   * A listing the agent pushed with a heartbeat: what an observing `list` would have answered at that moment.
   * One with an entry that cannot be read vouches for nothing and is dropped (the sweep asks with `list`).
   */
  pushListing(listing: HostListing): void {
    const before = this.#pushed;
    const changed = before === null || !sameListing(before.listing, listing);
    this.#pushed = listing.observed === null ? null : { listing, at: this.#now(), changed, fresh: true };
  }

  /** A pushed listing no sweep has compared yet, taken (so the next sweep waits for the next push); null: ask with `list`. */
  takePushedListing(): HostListing | null {
    const p = this.#pushed;
    if (p === null || !p.fresh) return null;
    p.fresh = false;
    return p.listing;
  }

  /**
   * Whether the host sweep should look at this host now. An agent that pushes listings is due when it pushed one
   * not compared yet: at once when it differs from the one before, else with the sweep's next `routine` round (so
   * the heartbeats' unchanged listings are compared many hosts at a time). A pushing agent whose pushes stopped for
   * `staleMs` (heartbeats still coming) is asked with `list` as an older agent is. Agents that never pushed are
   * due by time only (the store's claim decides).
   */
  sweepWanted(staleMs: number, routine: boolean): boolean {
    const p = this.#pushed;
    return p === null || (p.fresh && (routine || p.changed)) || this.#now() - p.at > staleMs;
  }

  /** The agent's long poll: commands queued now, or those that arrive within `waitMs`. */
  async take(waitMs: number, max: number): Promise<AgentCommand[]> {
    // A session that ended (the agent looked silent, e.g. after the control plane's clock jumped)
    // would answer every poll at once with nothing: the agent would spin on it, and an embedded one
    // starves the event loop. Tell it to say hello again instead.
    if (this.#closed !== null) throw new GantryError('AGENT_SESSION_STALE', `This agent session ended (${this.#closed}); say hello again.`);
    const poll = ++this.#polls;
    this.lastPollAt = this.#now();
    if (this.#queue.length === 0 && this.#closed === null && waitMs > 0) {
      this.#waiter?.(); // a newer poll replaces an older one
      let wake = (): void => undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
        this.#waiter = wake;
      });
      if (this.#waiter === wake) this.#waiter = null;
      this.lastPollAt = this.#now();
    }
    const out = this.#queue.slice(0, max);
    this.#queue = this.#queue.slice(out.length);
    for (const c of out) {
      const p = this.#pending.get(c.id);
      if (p) p.takenBy = poll;
    }
    return out;
  }

  /** Results for commands of this session; unknown ids (already answered, timed out) are counted, not applied. */
  settle(results: readonly AgentResult[]): { applied: number; unknown: number } {
    let applied = 0;
    for (const r of results) {
      const p = this.#pending.get(r.id);
      if (!p) continue;
      this.#pending.delete(r.id);
      clearTimeout(p.timer);
      const msg = r.error ?? 'the agent reported a failure';
      if (r.ok) p.resolve(r.value);
      else if (r.code !== undefined && isErrorCode(r.code) && AGENT_ERROR_CODES.has(r.code))
        p.reject(new GantryError(r.code, msg, { machineId: this.machineId }));
      else p.reject(new Error(msg));
      applied++;
    }
    return { applied, unknown: results.length - applied };
  }

  /** The agent said hello again or went away: every waiting call fails as "host unavailable". */
  close(reason: string): void {
    if (this.#closed !== null) return;
    this.#closed = reason;
    this.#waiter?.();
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(this.#unavailable(reason));
      this.#pending.delete(id);
    }
    this.#queue = [];
  }

  #unavailable(why: string): GantryError {
    return new GantryError('HOST_UNAVAILABLE', `Machine ${this.machineId}: ${why}.`, { machineId: this.machineId });
  }

  #call(c: AgentCommandInput, timeoutMs: number): Promise<unknown> {
    if (this.#closed !== null) return Promise.reject(this.#unavailable(this.#closed));
    // Unique within the session, which alone settles it; no random bytes per command (a sweep sends thousands).
    const id = `${this.#idPrefix}${(++this.#calls).toString(36)}`;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        this.#queue = this.#queue.filter((q) => q.id !== id);
        reject(this.#overdue(p, c.op, timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, takenBy: null });
      this.#queue.push({ ...c, id });
      this.#waiter?.();
    });
  }

  /**
   * Why a call ran out of time. A gone agent is "record nothing, retry" (HOST_UNAVAILABLE); an agent that
   * took the call and is still polling failed it (a step: STEP_TIMEOUT; another call: HOST_RUNTIME_FAILED). A dead agent's last poll may still hand it the command
   * (a parked poll outlives its connection), so "took it" alone does not prove the agent is alive.
   */
  #overdue(p: Pending, op: AgentCommand['op'], timeoutMs: number): GantryError {
    if (p.takenBy === null) return this.#unavailable(`the agent did not take "${op}" within ${timeoutMs} ms`);
    if (p.takenBy === this.#polls) return this.#unavailable(`the agent took "${op}" and has not polled since`);
    if (!this.connected()) return this.#unavailable(this.#closed ?? 'the agent disconnected');
    // The agent took it and still polls and heartbeats: its runtime is what does not answer (a container
    // engine that hangs), a failure of the host's to retry and show, not a host away.
    if (!STEPS.has(op))
      return new GantryError('HOST_RUNTIME_FAILED', `the agent took "${op}" but its runtime did not answer within ${timeoutMs} ms`, {
        machineId: this.machineId,
        op,
      });
    return new GantryError('STEP_TIMEOUT', `${op} ${STEP_TIMED_OUT} ${timeoutMs} ms`, { machineId: this.machineId, op });
  }
}

import { FailureLog } from '../failure-log.js';
import { GantryError, isGantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey } from '../keys.js';
import { asListing } from './agent-answers.js';
import { AgentSession, type AgentCommand, type AgentResult } from './agent-session.js';
import { MessageBudget } from './message-budget.js';
import { clientGroup } from '../../domain/client-group.js';
import type { HostTokenRecord, MachineRecord, MachineRegistration, UsageReport } from '../../domain/machine/machine.js';

/** Hardware and runtime an agent reports at hello; prices and listing are the owner's (create_asks). */
export type AgentMachineInfo = Omit<
  MachineRegistration,
  | 'hostKey'
  | 'ownerId'
  | 'verified'
  | 'priceGpuPerHour'
  | 'priceDiskPerGbMonth'
  | 'priceInetUpPerGb'
  | 'priceInetDownPerGb'
  | 'minBidPerGpuHour'
  | 'minChunk'
  | 'geolocation'
  | 'reliability'
  | 'directPortCount'
>;

export interface Hello {
  readonly hostKey: string;
  readonly imageNotice: string | null;
  readonly machine: AgentMachineInfo;
}

export interface Welcome {
  readonly machineId: number;
  readonly session: string;
  readonly heartbeatIntervalMs: number;
  readonly pollWaitMs: number;
  /** How often the host sweep compares a host's workloads: an agent that pushes listings checks its own this often (decision 021). */
  readonly observeIntervalMs?: number;
}

/** Every message after hello names its machine and session and carries a sequence number. */
export interface SessionMessage {
  readonly machineId: number;
  readonly session: string;
}
export interface Heartbeat extends SessionMessage {
  readonly seq: number;
  readonly gpuUtils: readonly number[] | null;
  readonly usage: readonly UsageReport[];
  /** Instances whose workload just ended, so the reconciler looks at them now. */
  readonly exited: readonly number[];
  /** Progress of slow starts (image pulls), shown as status_msg while the instance loads. */
  readonly progress: readonly { readonly instanceId: number; readonly message: string }[];
  /** Ports of the host's range the agent could not bind (another program holds them); absent from older agents. */
  readonly busyPorts?: readonly number[];
  /**
   * Every workload with its observation, as an observing `list` answers (`{id, state, exitCode?, onstartExitCode?}`),
   * so the host sweep needs no command (decision 021); absent from older agents, which are asked with `list`.
   */
  readonly listing?: readonly unknown[];
}
export interface Results extends SessionMessage {
  readonly seq: number;
  readonly results: readonly AgentResult[];
}

/**
 * The control-plane side of the agent protocol (see ARCHITECTURE.md): hello opens a session whose
 * AgentSession becomes the machine's HostLink; heartbeats carry liveness and usage; the agent long-polls
 * for commands and posts their results. A message that fails a check changes nothing and is logged.
 */
export class AgentHub {
  readonly #ctx: ControlContext;
  /** `metered`: its messages draw from its token's budget (every session but the embedded host's, which has no wire). */
  readonly #sessions = new Map<string, { s: AgentSession; tokenHash: string; metered: boolean }>();
  /** Machines whose heartbeats only said "alive" since the last tick, with the earliest such time (decision 021). */
  readonly #alive = new Map<number, number>();
  #aliveTimer: NodeJS.Timeout | null = null;

  readonly #joined: (machineId: number) => Promise<void>;
  readonly #touches: FailureLog;
  readonly #budget: MessageBudget;

  /**
   * `joined`: what the control plane does for a host whose agent said hello here (record the copies its earlier
   * session ran as failed, write its instances' SSH keys again).
   */
  constructor(ctx: ControlContext, joined: (machineId: number) => Promise<void> = async () => undefined) {
    this.#ctx = ctx;
    this.#touches = new FailureLog(ctx.log.child({ component: 'agent-hub' }), 'recording heartbeats', FailureLog.timing(ctx));
    this.#joined = joined;
    this.#budget = new MessageBudget(() => ctx.settings.agentMessageRate);
  }

  /**
   * `metered: false`: the embedded host (`gantry up`), whose agent runs in this process: no budget.
   * `address`: the client's, charged for a hello whose token is refused.
   */
  async hello(token: string | null, h: Hello, o: { readonly metered?: boolean; readonly address?: string } = {}): Promise<Welcome> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const metered = o.metered !== false;
    const t = await this.#token(token).catch((err: unknown) => {
      if (metered && err instanceof GantryError && (err.code === 'UNAUTHENTICATED' || err.code === 'MACHINE_DELETED'))
        this.#budget.chargeRefused(this.#client(o.address), now);
      throw err;
    });
    if (metered) this.#budget.charge(hashKey(token ?? ''), now);
    checkMachineInfo(h.machine);
    const account = await ctx.store.getAccount(t.accountId);
    if (!account) throw new GantryError('UNAUTHENTICATED', 'The account of this host token no longer exists.');
    const existing = await ctx.store.findMachineByHostKey(h.hostKey, now);
    if (t.machineId !== null && existing?.id !== t.machineId) {
      throw this.#reject(t, new GantryError('FORBIDDEN', `This host token belongs to machine ${t.machineId}; it cannot speak for another host.`), h.hostKey);
    }
    if (existing && existing.ownerId !== t.accountId) {
      throw this.#reject(t, new GantryError('FORBIDDEN', 'This host is registered to another account.'), h.hostKey);
    }
    const s = ctx.settings;
    // An unbound token is bound in the registration's transaction: hellos that race with it register one machine.
    const machine: MachineRecord = await ctx.store
      .registerMachine(
        {
          ...h.machine,
          hostKey: h.hostKey,
          ownerId: t.accountId,
          // An admin's own hosts are trusted like the embedded one; others wait for an admin's verify.
          verified: account.isAdmin,
          priceGpuPerHour: s.priceGpuPerHour,
          priceDiskPerGbMonth: s.priceDiskPerGbMonth,
          priceInetUpPerGb: 0,
          priceInetDownPerGb: 0,
          minBidPerGpuHour: s.priceGpuPerHour / 2,
          minChunk: 1,
          geolocation: 'local',
          reliability: 1,
          directPortCount: h.machine.portRangeEnd - h.machine.portRangeStart + 1,
        },
        now,
        t.machineId === null ? { bindToken: t.id } : {},
      )
      .catch((err: unknown) => {
        throw isGantryError(err) && err.code === 'FORBIDDEN' ? this.#reject(t, err, h.hostKey) : err;
      });
    const session = new AgentSession(
      machine.id,
      h.imageNotice,
      {
        callTimeoutMs: s.agentCallTimeoutMs,
        stepTimeoutMs: s.stepTimeoutMs,
        // A poll returns within pollWaitMs; twice that (plus slack for a slow network) without one means the agent is gone.
        connectedWindowMs: 2 * s.agentPollWaitMs + 2_000,
        heartbeatWindowMs: s.machineOfflineMs,
      },
      () => ctx.clock.now(),
    );
    for (const [id, old] of this.#sessions) if (old.s.machineId === machine.id || !old.s.connected()) this.#sessions.delete(id);
    this.#sessions.set(session.id, { s: session, tokenHash: hashKey(token ?? ''), metered });
    ctx.hosts.set(machine.id, session);
    ctx.machines.invalidate();
    ctx.log.info({ machineId: machine.id, hostKey: h.hostKey, runtime: h.machine.runtime, gpus: machine.numGpus }, 'agent connected');
    ctx.wake();
    // Keys changed while no replica held this host's session (it moved, or was away) are written now.
    void this.#joined(machine.id).catch((err: unknown) => ctx.log.warn({ err, machineId: machine.id }, 'bringing a host that joined up to date failed'));
    return {
      machineId: machine.id,
      session: session.id,
      heartbeatIntervalMs: s.heartbeatIntervalMs,
      pollWaitMs: s.agentPollWaitMs,
      observeIntervalMs: s.observeIntervalMs,
    };
  }

  async heartbeat(token: string | null, m: Heartbeat): Promise<void> {
    const s = this.#session(token, m, m.seq);
    s.lastSeq = m.seq; // before any await, so a concurrent replay of the same message is refused
    s.lastHeartbeatAt = this.#ctx.clock.now();
    // Busy ports are stored when they change (and at a session's first report), for rentals through other replicas.
    const ports = s.reportBusyPorts(m.busyPorts);
    if (m.listing !== undefined) s.pushListing(asListing(m.listing));
    // Exits and progress name instances: only this machine's count. Another host's id would have the reconciler
    // inspect that host's instance, and made-up ids (10,000 a heartbeat) would pile up as hints. Read once, and
    // only for a heartbeat that names any.
    const mine = m.exited.length + m.progress.length === 0 ? null : await this.#ctx.store.liveInstanceIds(m.machineId);
    // An exit wakes the reconciler before the liveness write: the look at it needs nothing the write records.
    for (const id of m.exited) if (mine?.has(id) === true) this.#ctx.wake(id);
    const now = this.#ctx.clock.now();
    // Only liveness (no usage, no pull's progress), and the machine was written recently (so it cannot have gone offline meanwhile): one
    // statement per tick for all such machines instead of one each. Offline detection reads last_seen_at
    // against machineOfflineMs (a minute), so a tick's delay changes nothing any replica decides.
    if (m.usage.length === 0 && m.progress.length === 0 && ports === undefined && s.livenessOnly(m.gpuUtils, this.#ctx.settings.machineOfflineMs / 2))
      return this.#touchLater(m.machineId, now);
    await this.#ctx.store.recordHeartbeat(m.machineId, { now, gpuUtils: m.gpuUtils, usage: m.usage, ...(ports !== undefined && { busyPorts: ports }) });
    if (ports !== undefined) s.busyPortsStored(ports);
    s.written(m.gpuUtils, now);
    for (const p of m.progress) {
      if (mine?.has(p.instanceId) !== true) continue;
      const inst = await this.#ctx.store.getInstance(p.instanceId);
      if (inst?.machineId === m.machineId && inst.status === 'loading') await this.#ctx.store.setStatusMsg(inst.id, p.message);
    }
  }

  async poll(token: string | null, m: SessionMessage & { waitMs: number }): Promise<AgentCommand[]> {
    const s = this.#session(token, m, null);
    return s.take(Math.min(m.waitMs, this.#ctx.settings.agentPollWaitMs), 100);
  }

  results(token: string | null, m: Results): { applied: number; unknown: number } {
    const s = this.#session(token, m, m.seq);
    s.lastSeq = m.seq;
    const r = s.settle(m.results);
    if (r.unknown > 0) this.#ctx.log.warn({ machineId: m.machineId, unknown: r.unknown }, 'agent results for unknown or expired commands ignored');
    return r;
  }

  #touchLater(machineId: number, at: number): void {
    if (!this.#alive.has(machineId)) this.#alive.set(machineId, at);
    this.#aliveTimer ??= setTimeout(() => {
      this.#aliveTimer = null;
      void this.flushLiveness();
    }, ALIVE_TICK_MS);
  }

  /** Write the liveness heard since the last tick, stamped with its earliest time (never later than any of it). */
  async flushLiveness(): Promise<void> {
    if (this.#alive.size === 0) return;
    const ids = [...this.#alive.keys()];
    let at = Infinity;
    for (const t of this.#alive.values()) at = Math.min(at, t);
    this.#alive.clear();
    // The database away: one line, then one a minute, then "works again", not one a second (failure-log.ts).
    await this.#touches.run(() => this.#ctx.store.touchMachines(ids, at), undefined);
  }

  /** Refused hellos are charged per client, as the edge's limits count them (an IPv6 one by ipv6ClientPrefixBits). */
  #client(address: string | undefined): string {
    return clientGroup(address, this.#ctx.settings.ipv6ClientPrefixBits);
  }

  /**
   * Before a message's body is read: RATE_LIMITED when its token's budget is already spent, so a host
   * that keeps sending costs no parse and no database read. Tokens never seen valid have no budget
   * here: theirs is their client address's, spent by hellos refused for their token.
   */
  refuseEarly(token: string | null, address: string): void {
    this.#budget.refuseSpent(token !== null && token !== '' ? hashKey(token) : null, this.#client(address), this.#ctx.clock.now());
  }

  /** Shutting down: parked polls return, waiting calls fail as "host unavailable". */
  close(): void {
    if (this.#aliveTimer !== null) clearTimeout(this.#aliveTimer);
    this.#aliveTimer = null;
    for (const { s } of this.#sessions.values()) {
      s.close('the control plane is shutting down');
      this.#ctx.hosts.delete(s.machineId, s);
    }
    this.#sessions.clear();
  }

  async #token(token: string | null): Promise<HostTokenRecord> {
    if (token === null || token === '') throw new GantryError('UNAUTHENTICATED', 'A host token is required: send "Authorization: Bearer <host token>".');
    const t = await this.#ctx.store.findHostTokenByHash(hashKey(token));
    if (!t || (t.revokedAt !== null && t.machineId === null)) {
      this.#ctx.log.warn({ component: 'agent-hub' }, 'agent message with an unknown host token');
      throw new GantryError('UNAUTHENTICATED', 'The host token is not valid.');
    }
    // Host tokens are revoked only with their machine (delete machine): say so, so the agent stops for good.
    if (t.revokedAt !== null) {
      this.#ctx.log.warn({ component: 'agent-hub', tokenId: t.id, machineId: t.machineId }, 'agent of a deleted machine refused');
      throw new GantryError(
        'MACHINE_DELETED',
        `Machine ${t.machineId} was deleted by its owner and this host token was revoked with it. ` +
          'To add this host again (as a new machine), create a new host token (create host-token) and start the agent with it.',
        { machineId: t.machineId },
      );
    }
    return t;
  }

  #session(token: string | null, m: SessionMessage, seq: number | null): AgentSession {
    if (token === null || token === '') throw new GantryError('UNAUTHENTICATED', 'A host token is required.');
    const entry = this.#sessions.get(m.session);
    const log = this.#ctx.log.child({ component: 'agent-hub', machineId: m.machineId });
    if (!entry) {
      log.info('agent message for an unknown session; the agent must say hello again');
      throw new GantryError('AGENT_SESSION_STALE', 'Unknown or replaced agent session; say hello again.');
    }
    if (entry.tokenHash !== hashKey(token)) {
      log.warn('agent message with a token that did not open this session');
      throw new GantryError('FORBIDDEN', 'This session was opened with another host token.');
    }
    if (entry.s.machineId !== m.machineId) {
      log.warn({ sessionMachine: entry.s.machineId }, 'agent message for another machine');
      throw new GantryError('FORBIDDEN', `This session belongs to machine ${entry.s.machineId}, not ${m.machineId}.`);
    }
    // Charged before the order check: a refused replay is traffic too, and must not be a free warn line.
    if (entry.metered) this.#budget.charge(entry.tokenHash, this.#ctx.clock.now());
    if (seq !== null && seq <= entry.s.lastSeq) {
      log.warn({ seq, lastSeq: entry.s.lastSeq }, 'replayed or reordered agent message refused');
      throw new GantryError('STALE_REPORT', `Message ${seq} is not newer than ${entry.s.lastSeq}; it was ignored.`, { seq, lastSeq: entry.s.lastSeq });
    }
    return entry.s;
  }

  #reject(t: HostTokenRecord, e: GantryError, hostKey: string): GantryError {
    this.#ctx.log.warn({ component: 'agent-hub', tokenId: t.id, tokenMachine: t.machineId, hostKey, code: e.code }, e.message);
    return e;
  }
}

/** How long heartbeats that only say "alive" are gathered before one statement writes them all. */
const ALIVE_TICK_MS = 1000;

/** Semantic checks the JSON schema cannot express. */
function checkMachineInfo(m: AgentMachineInfo): void {
  const bad = (msg: string): never => {
    throw new GantryError('INVALID_ARGUMENT', `hello: ${msg}`);
  };
  if (m.portRangeEnd < m.portRangeStart) bad('portRangeEnd is below portRangeStart');
  if (m.numGpus === 0 && m.gpuName !== 'CPU') bad('a host without GPUs reports gpuName "CPU"');
}

import type { Logger } from 'pino';
import type { AgentMachineInfo, Welcome } from '../control/hosts/agent-hub.js';
import { AGENT_ERROR_CODES, type AgentCommand, type AgentResult } from '../control/hosts/agent-session.js';
import { isGantryError } from '../domain/errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { isFatal, retryLaterMs, type AgentChannel } from './channel.js';
import { dispatch } from './dispatch.js';
import type { SshAccess } from './ssh-access.js';
import { firstBatch, within } from './bounds.js';
import { Listings, UsageGathering } from './heartbeat-reads.js';

export interface AgentOptions {
  readonly channel: AgentChannel;
  readonly runtime: Runtime;
  /** Stable identity of this host (kept in its data dir), so a restarted agent is the same machine. */
  readonly hostKey: string;
  readonly describe: () => Promise<AgentMachineInfo>;
  /** Utilisation of each GPU by index; null when not measured (declared GPUs, no driver). */
  readonly gpuUtils: () => Promise<number[] | null>;
  /** Ports of this host's range that another program holds (port-probe.ts); sent with each heartbeat. */
  readonly busyPorts?: () => Promise<number[]>;
  readonly log: Logger;
  /** SSH access to this host's instances (ssh-access.ts); absent: none. */
  readonly ssh?: SshAccess;
  /** Back-off between reconnect attempts. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /**
   * Push every workload with its observation with each heartbeat, and a heartbeat at once when that listing
   * changes (checked here every `observeIntervalMs` of the welcome), so the control plane's host sweep sends
   * no `list` command (decision 021). Off: the agent answers `list` commands only, as agents before it did.
   */
  readonly pushListings?: boolean;
  /**
   * A read of this host for a heartbeat (the workloads, an instance's usage) not answered within this is asked
   * again (`agentReadTimeoutMs`; 60 s by default): an engine that lost a request holds back that read only so long.
   */
  readonly readTimeoutMs?: number;
  /**
   * How long `stop` waits for the commands under way (an image pull, a stop in its grace) before it returns
   * without them (`agentStopWaitMs`; 30 s by default): their results are not sent, and the control plane asks again.
   */
  readonly stopWaitMs?: number;
  /** The control plane refused this host for good after it had joined (its machine was deleted): the agent has stopped. */
  readonly onRefused?: (err: unknown) => void;
}

/** The stops and destroys of one instance under way at this agent, and whether its workload exited meanwhile. */
type ExitHold = { count: number; exited: boolean };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const stoppedBeforeHello = (): Error => new Error('the agent stopped before it joined the control plane');

/**
 * The host agent, the same code in `gantry agent` and inside `gantry up`: says hello, heartbeats with usage,
 * long-polls for runtime commands and answers them. Workloads do not depend on it: when it or the control
 * plane restarts, they keep running and are adopted again after the next hello.
 */
export class Agent {
  readonly #o: AgentOptions;
  #welcome: Welcome | null = null;
  #seq = 0;
  /** Messages with a sequence number go out one at a time, so they arrive in order. */
  #sendChain: Promise<void> = Promise.resolve();
  /** Set while a message the control plane refused for now (RATE_LIMITED) waits: nothing is sent meanwhile. */
  #retryTimer: NodeJS.Timeout | null = null;
  #results: AgentResult[] = [];
  #exited = new Set<number>();
  /** Stops and destroys under way, by instance: an exit they cause is told by their result, not by a heartbeat of its own. */
  readonly #ending = new Map<number, ExitHold>();
  /** Latest progress line per loading instance, sent with the next heartbeat. */
  #progress = new Map<number, string>();
  #running = false;
  #loop: Promise<void> | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #listingTimer: NodeJS.Timeout | null = null;
  /** The listing sent with the last heartbeat (JSON), to see a change between heartbeats; a check runs one at a time. */
  #sentListing: string | null = null;
  #checking = false;
  readonly #inFlight = new Set<Promise<void>>();
  /** Usage for heartbeats: reads that outlast their wait (a slow runtime) are kept, and asked again past readTimeoutMs. */
  readonly #usage: UsageGathering;
  /** The runtime's listings, for heartbeats and this agent's checks between them (heartbeat-reads.ts). */
  readonly #listings: Listings;
  /** GPU and port reads under way, by kind: one of each at a time (a read that hangs is not started again per heartbeat). */
  readonly #reads = new Map<string, Promise<unknown>>();
  /** A heartbeat waits in the send chain: another asked meanwhile is the same one (results queue behind heartbeats). */
  #heartbeatQueued = false;

  constructor(o: AgentOptions) {
    this.#o = o;
    this.#usage = new UsageGathering(o.runtime, this.#readTimeoutMs);
    this.#listings = new Listings(o.runtime, this.#readTimeoutMs);
    o.runtime.onExit((id) => {
      const ending = this.#ending.get(id);
      // The stop's own doing: its result says so. A heartbeat now (a scan of every workload, GPUs and ports)
      // would hold the event loop, and the result queued behind it, in the middle of that stop.
      if (ending !== undefined) ending.exited = true;
      else this.#exitedNow(id);
    });
    o.runtime.onProgress?.((id, message) => {
      const first = this.#progress.size === 0;
      this.#progress.set(id, message);
      if (first) this.#heartbeat();
    });
  }

  get machineId(): number | null {
    return this.#welcome?.machineId ?? null;
  }

  /** First hello (retried while the server cannot be reached; a refused token throws, and so does a stop meanwhile), then the loops. */
  async start(): Promise<Welcome> {
    this.#running = true;
    let delay = this.#o.retryMinMs ?? 200;
    for (;;) {
      try {
        const w = await this.#hello();
        this.#loop = this.#run();
        return w;
      } catch (err) {
        if (isFatal(err) || !this.#running) throw err;
        const later = retryLaterMs(err);
        this.#o.log.warn({ err: String(err) }, later !== null ? 'the control plane asked this agent to wait' : 'control plane not reachable; retrying');
        await sleep(later ?? delay);
        if (!this.#running) throw stoppedBeforeHello();
        if (later === null) delay = Math.min(delay * 2, this.#o.retryMaxMs ?? 5_000);
      }
    }
  }

  get #readTimeoutMs(): number {
    return this.#o.readTimeoutMs ?? 60_000;
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    if (this.#listingTimer !== null) clearInterval(this.#listingTimer);
    this.#listingTimer = null;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#o.ssh?.endCopies(); // a copy may run for an hour: it ends with the agent rather than holding it up
    const left = await this.#settleInFlight(this.#o.stopWaitMs ?? 30_000);
    if (left > 0)
      this.#o.log.warn({ commands: left }, 'agent stopping with commands still under way; the control plane asks again for what they did not report');
    // The poll may be parked on the server; it ends with its wait, and nothing acts on what it returns.
    this.#loop = null;
    await this.#o.ssh?.close();
  }

  /** Waits for the commands under way, at most `ms`; how many were left. */
  async #settleInFlight(ms: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, ms)));
    await Promise.race([Promise.all([...this.#inFlight]), bound]);
    clearTimeout(timer);
    return this.#inFlight.size;
  }

  async #hello(): Promise<Welcome> {
    const machine = await this.#o.describe();
    if (!this.#running) throw stoppedBeforeHello(); // no session to leave stale
    const w = await this.#o.channel.hello({ hostKey: this.#o.hostKey, imageNotice: this.#o.runtime.imageNotice, machine });
    // Stopped meanwhile: its timers, armed below, would outlive it (and keep its process alive).
    if (!this.#running) throw stoppedBeforeHello();
    this.#welcome = w;
    this.#seq = 0;
    this.#results = [];
    // A wait asked for in the old session does not hold up the new one's first heartbeat.
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), w.heartbeatIntervalMs);
    if (this.#listingTimer !== null) clearInterval(this.#listingTimer);
    this.#listingTimer = null;
    this.#sentListing = null;
    // A control plane from before pushed listings names no observeIntervalMs; it ignores a listing all the same.
    if (this.#o.pushListings === true && typeof w.observeIntervalMs === 'number')
      this.#listingTimer = setInterval(() => void this.#checkListing(), Math.max(100, w.observeIntervalMs));
    this.#heartbeat();
    this.#o.log.info({ machineId: w.machineId }, 'agent joined the control plane');
    return w;
  }

  async #run(): Promise<void> {
    let delay = this.#o.retryMinMs ?? 200;
    while (this.#running) {
      try {
        const w = this.#welcome ?? (await this.#hello());
        const commands = await this.#o.channel.poll({ machineId: w.machineId, session: w.session, waitMs: w.pollWaitMs });
        if (!this.#running) break;
        for (const c of commands) this.#execute(c);
        delay = this.#o.retryMinMs ?? 200;
      } catch (err) {
        if (!this.#running) break;
        const later = retryLaterMs(err);
        if (later !== null) {
          // Asked to slow down: the session stays, nothing is lost; wait as told and poll again.
          this.#o.log.warn({ err: String(err) }, 'the control plane asked this agent to slow down');
          await sleep(later);
          continue;
        }
        if (isFatal(err)) {
          // Asking again with the same token changes nothing (a deleted machine's token stays revoked): stop and say why.
          this.#o.log.error({ err: String(err) }, 'the control plane refused this host; the agent stops');
          await this.stop();
          this.#o.onRefused?.(err);
          break;
        }
        const stale = isGantryError(err) && err.code === 'AGENT_SESSION_STALE';
        this.#o.log[stale ? 'info' : 'warn']({ err: String(err) }, stale ? 'session ended; saying hello again' : 'control plane unreachable; reconnecting');
        this.#welcome = null;
        await sleep(delay);
        delay = Math.min(delay * 2, this.#o.retryMaxMs ?? 5_000);
      }
    }
  }

  #exitedNow(id: number): void {
    this.#exited.add(id);
    this.#heartbeat();
  }

  #execute(c: AgentCommand): void {
    // A start ends the hold of a stop the control plane gave up on (its step timed out): the new run's exits are told.
    if (c.op === 'start') this.#ending.delete(c.spec.instanceId);
    const ending = c.op === 'stop' || c.op === 'destroy' ? { id: c.instanceId, hold: this.#ending.get(c.instanceId) ?? { count: 0, exited: false } } : null;
    if (ending !== null) {
      ending.hold.count++;
      this.#ending.set(ending.id, ending.hold);
    }
    const p = dispatch(this.#o.runtime, c, this.#o.ssh).then(
      (value) => ({ id: c.id, ok: true, value: value ?? null }),
      (err: unknown): AgentResult => ({
        id: c.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        // A code the control plane acts on (another SSH port for the instance), where it is one of those.
        ...(isGantryError(err) && AGENT_ERROR_CODES.has(err.code) && { code: err.code }),
      }),
    );
    const done = p.then((r) => {
      this.#results.push(r);
      this.#send('results');
      if (ending !== null) this.#endingDone(ending.id, ending.hold, r);
    });
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
  }

  #heartbeat(): void {
    // One heartbeat waiting is enough: it gathers when it runs. Each may wait its bound on a slow runtime, and
    // results are sent in the same chain, so heartbeats queued faster than they go would hold up every answer.
    if (!this.#running || this.#heartbeatQueued) return;
    this.#heartbeatQueued = true;
    this.#send('heartbeat');
  }

  /**
   * The exit a stop or destroy caused is told by its result when that says the workload is gone; otherwise (the
   * step failed, or left it running) it is told as any exit, after. A result the control plane no longer waited
   * for (its step timed out) is made good by the next listing (pushed by this agent when it changes, or asked
   * for by the control plane's host sweep), as any other change.
   */
  #endingDone(id: number, e: ExitHold, r: AgentResult): void {
    // A hold a start ended is gone, and the stops under way since hold another: this one's end leaves that one be.
    if (this.#ending.get(id) !== e || --e.count > 0) return;
    this.#ending.delete(id);
    const gone = r.ok && (r.value as { state?: unknown } | null)?.state === 'absent';
    if (e.exited && !gone) this.#exitedNow(id);
  }

  /** A workload whose observation changed since the last heartbeat is told at once (the host's own look, not a request). */
  async #checkListing(): Promise<void> {
    if (this.#checking || !this.#running) return;
    this.#checking = true;
    try {
      // Bounded: a listing whose answer never comes would end these checks for good.
      const listing = await this.#listings.checked();
      if (listing === null) return;
      const now = JSON.stringify(listing);
      if (now === this.#sentListing) return;
      this.#sentListing = now; // the heartbeat sends its own look; the next check must not ask for another meanwhile
      this.#heartbeat();
    } catch {
      // The runtime could not list: the next heartbeat tries again.
    } finally {
      this.#checking = false;
    }
  }

  /** Queue one sequenced message; a failure ends the session (the poll loop says hello again). */
  #send(kind: 'heartbeat' | 'results'): void {
    this.#sendChain = this.#sendChain.then(async () => {
      if (kind === 'heartbeat') this.#heartbeatQueued = false;
      const w = this.#welcome;
      // Told to wait (RATE_LIMITED): what this would carry waits too; the retry timer sends both kinds.
      if (w === null || this.#retryTimer !== null) return;
      const base = { machineId: w.machineId, session: w.session };
      /** What this message carries that must not be lost: given back to be sent again when the control plane asks to wait. */
      let giveBack = (): void => undefined;
      try {
        if (kind === 'results') {
          if (this.#results.length === 0) return;
          const n = firstBatch(this.#results);
          const results = this.#results.slice(0, n);
          this.#results = this.#results.slice(n);
          giveBack = () => (this.#results = [...results, ...this.#results]);
          await this.#o.channel.results({ ...base, seq: ++this.#seq, results });
          if (this.#results.length > 0) this.#send('results');
        } else {
          const exited = [...this.#exited];
          this.#exited.clear();
          const progress = [...this.#progress].map(([instanceId, message]) => ({ instanceId, message }));
          this.#progress.clear();
          giveBack = () => {
            for (const id of exited) this.#exited.add(id);
            for (const p of progress) if (!this.#progress.has(p.instanceId)) this.#progress.set(p.instanceId, p.message);
          };
          // The heartbeat is the host's liveness: a container engine that hangs must not silence it (the host would
          // read offline, and its stuck stops never fail). What is not gathered in time is left out.
          // Half the interval: answers wait behind a heartbeat, and the next one is due after the interval.
          const ms = Math.max(1_000, Math.floor(w.heartbeatIntervalMs / 2));
          const [usage, gpuUtils, busyPorts, listing] = await Promise.all([
            this.#usage.within(ms),
            within(
              this.#single('gpu', () => this.#o.gpuUtils().catch(() => null)),
              ms,
              null,
            ),
            within(
              this.#single('ports', () => this.#o.busyPorts?.().catch(() => undefined) ?? Promise.resolve(undefined)),
              ms,
              undefined,
            ),
            this.#o.pushListings === true ? this.#listings.within(ms) : undefined,
          ]);
          if (listing !== undefined) this.#sentListing = JSON.stringify(listing);
          await this.#o.channel.heartbeat({
            ...base,
            seq: ++this.#seq,
            gpuUtils,
            usage,
            exited,
            progress,
            ...(busyPorts !== undefined && { busyPorts }),
            ...(listing !== undefined && { listing }),
          });
        }
      } catch (err) {
        const later = retryLaterMs(err);
        // Exits and progress are about workloads, not the session: they go with the next heartbeat whatever
        // its session; results belong to the session they answer (a new hello drops them).
        if (later !== null && (kind === 'heartbeat' || this.#welcome === w)) giveBack();
        // Told to wait (RATE_LIMITED): nothing is sent before the time. The database away: the next heartbeat
        // at its interval carries what this one did (sent every second, a whole fleet would for the outage).
        const limited = isGantryError(err) && err.code === 'RATE_LIMITED';
        if (later !== null && limited && this.#running && this.#welcome === w && this.#retryTimer === null) {
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = null;
            if (!this.#running) return;
            this.#send('results');
            this.#heartbeat();
          }, later);
          this.#retryTimer.unref();
        }
        this.#o.log.debug({ err: String(err), kind }, 'agent message not delivered');
      }
    });
  }

  /** The read of `kind` under way, else a new one: a read that hangs (nvidia-smi stuck in the driver) is not started again by every heartbeat. */
  #single<T>(kind: string, read: () => Promise<T>): Promise<T> {
    const running = this.#reads.get(kind) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const p = read();
    this.#reads.set(kind, p);
    const done = (): void => {
      if (this.#reads.get(kind) === p) this.#reads.delete(kind);
    };
    p.then(done, done);
    return p;
  }
}

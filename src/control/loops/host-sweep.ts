import { isGantryError } from '../../domain/errors.js';
import type { Observation, ReconcileInput } from '../../domain/instance/reconcile.js';
import { diffHost, plainlyRunning, type SweptInstance } from '../../domain/instance/sweep.js';
import type { ControlContext } from '../context.js';
import type { HostLink, HostListing } from '../hosts/hosts.js';

/** Machines per claim (one transaction); they are then swept in chunks. */
const HOSTS_PER_CLAIM = 10_000;
/** Machines per chunk: one `list` each (in parallel), one read of their instances, one stamp. */
const HOSTS_PER_CHUNK = 1000;
/** Chunks in flight at once: the store's reads of one overlap the listings and diff of another. */
const CHUNKS_IN_FLIGHT = 4;

export interface SweepReport {
  /** Claims of due hosts the store answered, whether they found any (none when no connected host was a candidate). */
  asked: number;
  /** Hosts whose workloads were compared with their instances. */
  hosts: number;
  /** Hosts claimed whose agent did not answer (stamped all the same: tried again after observeIntervalMs). */
  failed: number;
  /**
   * Hosts whose listing had not come within sweepListWaitMs: compared on their own once it comes, and counted
   * then (in `hosts` or `failed` of the report given to the sweep's `late` callback), not in this report.
   */
  late: number;
  /** Instances handed to the per-instance path. */
  handedOver: number;
  /** Workloads no live instance owns, given to the orphan removal. */
  orphans: number;
}

/**
 * Whether a sweep asked the database: one that found no host due worked (a failure before it is over); one
 * with no candidate asked nothing, so it shows neither that a failure goes on nor that it ended.
 */
export const askedHosts = (r: SweepReport): boolean => r.asked > 0;

/**
 * What the sweep saw of an instance it hands over: the workload as the host's listing showed it (`absent`
 * when not listed), when that listing was asked for, and the row it was compared with. The per-instance
 * path records from it instead of an `inspect` of its own while it is fresh and the row is still this one.
 */
export interface SweptLook {
  readonly observation: Observation;
  /** Taken no earlier than this (the clock before the chunk's listings went out). */
  readonly at: number;
  /** The row as the sweep read it. */
  readonly row: ReconcileInput;
}

/** A host's listing as the sweep got it: asked for, or pushed with a heartbeat (decision 021). */
interface Listed {
  readonly machineId: number;
  readonly host: HostLink;
  readonly listing: HostListing;
  readonly pushed: boolean;
}

const emptyReport = (): SweepReport => ({ asked: 0, hosts: 0, failed: 0, late: 0, handedOver: 0, orphans: 0 });

/**
 * The host sweep (decision 017): each connected host, under a lease on its machine row, is asked once for
 * every workload with its observation (or its agent pushed that listing with a heartbeat: decision 021), and
 * its live instances are read once; the pure diff
 * (`domain/instance/sweep.ts`) says which instances a look would change. Those are handed to the
 * reconciler's per-instance path (`handOver`); the others are at rest and cost nothing more. Workloads the
 * store does not know are removed as orphans. Run by the instance reconciler.
 *
 * A host slow to list delays only itself: the sweep waits for a chunk's listings at most sweepListWaitMs, and
 * those that come later are compared in the background as they come (`late` gets their counts).
 */
export class HostSweep {
  readonly #ctx: ControlContext;
  readonly #owner: string;
  readonly #handOver: (instanceId: number, look: SweptLook | null) => void;
  /** When a sweep last took the pushed listings that show no change (at most one such round per observeIntervalMs). */
  #routineAt = Number.NEGATIVE_INFINITY;
  /**
   * Orphan removals in flight, by machine and instance id: a removal takes a grace period, and the next sweep must
   * not start another. Per machine: a host that lists another host's orphan (and never lets its own removal of it
   * end) must not hold off that host's.
   */
  readonly #removing = new Map<string, Promise<void>>();
  /**
   * Machines this replica claimed whose sweep has not ended (a listing still to come, or being compared). Its next
   * sweeps leave them out, so a host is asked once at a time; the store's lease, held until then, keeps the other
   * replicas off them.
   */
  readonly #unfinished = new Set<number>();
  /** Chunks whose late listings are still awaited and compared in the background (stop waits for them). */
  readonly #tails = new Set<Promise<void>>();
  readonly #late: (r: SweepReport) => void;

  /** `late`: the counts of hosts compared after their sweep returned (their listing came past sweepListWaitMs). */
  constructor(ctx: ControlContext, owner: string, handOver: (instanceId: number, look: SweptLook | null) => void, late: (r: SweepReport) => void) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.#handOver = handOver;
    this.#late = late;
  }

  /** Sweep every connected host that is due, a batch at a time, until none is left. */
  async sweepDue(): Promise<SweepReport> {
    const total = emptyReport();
    // Due means swept before this call began: with observeIntervalMs = 0 a host swept here is not due again in it.
    const start = this.#ctx.clock.now();
    const sweptBefore = Math.min(start - this.#ctx.settings.observeIntervalMs, start - 1);
    for (;;) {
      const r = await this.#batch(sweptBefore);
      if (r === null) return total;
      total.asked += r.asked;
      total.hosts += r.hosts;
      total.failed += r.failed;
      total.late += r.late;
      total.handedOver += r.handedOver;
      total.orphans += r.orphans;
      // A claim with room to spare took every host due when it ran: asking again would only find none (hosts
      // that pushed a listing since are the next sweep's, a moment later).
      if (r.claimed < HOSTS_PER_CLAIM) return total;
    }
  }

  /** Late listings of the sweeps so far compared (or failed), in the background as they come. */
  async caughtUp(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails);
  }

  /** Late listings compared and orphan removals ended (stop waits for them). */
  async settled(): Promise<void> {
    await this.caughtUp(); // first: a late listing may start removals
    await Promise.all(this.#removing.values());
  }

  async #batch(sweptBefore: number): Promise<(SweepReport & { claimed: number }) | null> {
    const ctx = this.#ctx;
    const s = ctx.settings;
    const now = ctx.clock.now();
    // Unchanged pushed listings wait for one round per interval, so a round compares many hosts, not the few that
    // pushed since the last one; a listing that changed is compared at once.
    const routine = now - this.#routineAt >= s.observeIntervalMs;
    if (routine) this.#routineAt = now;
    // Hosts that push their listings are claimed once they pushed a new one; past two heartbeats without, they are asked.
    let candidates = ctx.hosts.sweepCandidates(2 * s.heartbeatIntervalMs + s.agentCallTimeoutMs, routine);
    if (this.#unfinished.size > 0) candidates = candidates.filter((id) => !this.#unfinished.has(id));
    if (candidates.length === 0) return null;
    const { token, machineIds } = await ctx.store.claimHostSweeps({
      owner: this.#owner,
      now,
      // Held past the listing's own bound (a host slow to answer), so it cannot lapse while this replica still sweeps
      // (a late listing too: it comes within agentCallTimeoutMs of its chunk, which starts after the claim).
      leaseMs: s.leaseMs + s.agentCallTimeoutMs,
      sweptBefore,
      limit: HOSTS_PER_CLAIM,
      machineIds: candidates,
    });
    const report: SweepReport = { ...emptyReport(), asked: 1 };
    if (machineIds.length === 0) return { ...report, claimed: 0 };
    const claimed = machineIds.length;
    const chunks: number[][] = [];
    for (let i = 0; i < machineIds.length; i += HOSTS_PER_CHUNK) chunks.push(machineIds.slice(i, i + HOSTS_PER_CHUNK));
    // A chunk that fails (the store unreachable a moment) has its hosts swept at the next interval; the other
    // chunks go on, so the sweep ends only when all of them have. A sweep whose every chunk failed failed
    // (the caller's FailureLog says so sparingly); one that failed in part says which part.
    const total = chunks.length;
    const errors: unknown[] = [];
    const worker = async (): Promise<void> => {
      for (let c = chunks.shift(); c !== undefined; c = chunks.shift()) await this.#chunk(token, c, report).catch((err: unknown) => errors.push(err));
    };
    await Promise.all(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, total) }, worker));
    if (errors.length === total) throw errors[0];
    if (errors.length > 0)
      ctx.log.error({ err: errors[0], failed: errors.length, of: total, component: 'host-sweep' }, 'sweeping some hosts failed; will retry');
    return { ...report, claimed };
  }

  /**
   * One chunk: every host's listing, then one read of their instances and the diff. The sweep waits for the
   * listings at most sweepListWaitMs and compares those that came; a host slower than that (an engine that hangs,
   * a host that takes the command and never answers) would otherwise hold up every host of the replica for up to
   * agentCallTimeoutMs. Its listing is compared in the background once it comes, with those that came with it,
   * and its lease is held (it is not stamped) until then.
   */
  async #chunk(token: string, machineIds: readonly number[], report: SweepReport): Promise<void> {
    // Listings first, then the store: an instance created in between is in the store and not yet on the
    // host, which hands it over (a second look), never the other way round. So for a late host too: its
    // instances are read after its listing came.
    const at = this.#ctx.clock.now();
    for (const id of machineIds) this.#unfinished.add(id);
    // `#list` answers null for a host that failed; were it ever to throw, that host failed all the same (and the
    // chunk must not wait for it for good).
    const arrivals = new Arrivals(
      machineIds.map((id) =>
        this.#list(id).then(
          (l) => [id, l] as const,
          () => [id, null] as const,
        ),
      ),
    );
    await arrivals.all(this.#ctx.settings.sweepListWaitMs);
    const first = arrivals.take();
    report.late += arrivals.left;
    if (arrivals.left > 0) {
      const tail = this.#tail(token, at, arrivals).finally(() => this.#tails.delete(tail));
      this.#tails.add(tail);
    }
    await this.#compare(token, first, at, report);
  }

  /** A chunk's late listings, compared as they come (those that came together in one read), until the last. */
  async #tail(token: string, at: number, arrivals: Arrivals): Promise<void> {
    while (arrivals.left > 0 || arrivals.ready > 0) {
      await arrivals.some();
      const report = emptyReport();
      try {
        await this.#compare(token, arrivals.take(), at, report);
      } catch (err) {
        this.#ctx.log.error({ err, component: 'host-sweep' }, 'sweeping some hosts failed; will retry');
      } finally {
        this.#late(report);
      }
    }
  }

  /** Compare the hosts whose listings came (null: the host did not answer) with their instances; stamp them and release their lease. */
  async #compare(token: string, got: readonly (readonly [number, Listed | null])[], at: number, report: SweepReport): Promise<void> {
    const ctx = this.#ctx;
    const machineIds = got.map(([id]) => id);
    try {
      const listed = got.flatMap(([, l]) => (l === null ? [] : [l]));
      report.failed += machineIds.length - listed.length;
      if (listed.length < machineIds.length) ctx.metrics.hostSweeps.inc({ outcome: 'failed' }, machineIds.length - listed.length);
      if (listed.length === 0) return;
      const running: { machineId: number; id: number }[] = [];
      for (const l of listed) for (const w of l.listing.observed ?? []) if (plainlyRunning(w.observation)) running.push({ machineId: l.machineId, id: w.id });
      const read = await ctx.store.sweptInstances(
        listed.map((l) => l.machineId),
        running,
      );
      const byMachine = new Map<number, SweptInstance[]>();
      for (const inst of read.rows) {
        const rows = byMachine.get(inst.machineId);
        if (rows === undefined) byMachine.set(inst.machineId, [inst]);
        else rows.push(inst);
      }
      const now = ctx.clock.now();
      const observeBefore = now - ctx.settings.observeIntervalMs;
      for (const l of listed) {
        const diff = diffHost(l.listing.ids, l.listing.observed, byMachine.get(l.machineId) ?? [], read.resting.get(l.machineId) ?? 0, {
          now,
          imageNotice: l.host.imageNotice,
          observeBefore,
        });
        // A pushed listing was taken before this server heard it: an intent written in between would not show
        // against its time, so its hand-overs are inspected again (as an exit the agent reported is).
        for (const id of diff.handOver) this.#handOver(id, l.pushed ? null : lookOf(l.listing.observed, byMachine.get(l.machineId), id, at));
        for (const id of diff.unknown) this.#removeOrphan(l.machineId, l.host, id);
        report.hosts++;
        ctx.metrics.hostSweeps.inc({ outcome: 'swept' });
        report.handedOver += diff.handOver.length;
        report.orphans += diff.unknown.length;
      }
    } finally {
      try {
        if (machineIds.length > 0) await ctx.store.finishHostSweeps(token, machineIds, ctx.clock.now());
      } finally {
        for (const id of machineIds) this.#unfinished.delete(id);
      }
    }
  }

  async #list(machineId: number): Promise<Listed | null> {
    const host = this.#ctx.hosts.get(machineId);
    if (host === undefined) return null;
    try {
      // A listing the agent pushed with a heartbeat since the last sweep costs no command (decision 021).
      const pushed = host.takePushedListing?.() ?? null;
      if (pushed !== null) return { machineId, host, listing: pushed, pushed: true };
      const listing = host.observeAll !== undefined ? await host.observeAll() : { ids: await host.list(), observed: null };
      return { machineId, host, listing, pushed: false };
    } catch (err) {
      // A host that went away is swept when it is back; nothing is recorded for its instances meanwhile.
      const log = this.#ctx.log.child({ component: 'host-sweep', machineId });
      if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE') log.warn({ reason: err.message }, 'host unavailable; will retry');
      else log.error({ err }, 'listing the host failed; will retry');
      return null;
    }
  }

  /**
   * A workload the runtime runs whose instance record is gone or destroyed is stopped and removed (the other
   * direction, records whose workload vanished, is a look of the per-instance path). In the background: a
   * removal waits out a grace period, which must not hold up the other hosts' sweep.
   */
  #removeOrphan(machineId: number, host: HostLink, id: number): void {
    const key = `${machineId}:${id}`;
    if (this.#removing.has(key)) return;
    const ctx = this.#ctx;
    const log = ctx.log.child({ component: 'host-sweep', machineId, instanceId: id });
    const work = (async () => {
      // Re-read: the instance may have been created between the listing and the store's read.
      const rec = await ctx.store.getInstance(id);
      if (rec && rec.machineId === machineId && rec.status !== 'destroyed') return;
      // A listing taken before the instance's destroy was confirmed still names it: gone from the host, nothing is
      // left. A listing taken now that still names it has something left under its label (a container made by hand).
      if (rec !== undefined && (await host.inspect(id)).state === 'absent' && !(await host.list()).includes(id)) return;
      log.warn('removing orphan workload');
      await host.destroy(id, { graceMs: ctx.settings.stopGraceMs });
    })()
      .catch((err: unknown) => {
        if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE')
          log.warn({ reason: err.message }, 'host unavailable; orphan removal retried at a later sweep');
        else log.error({ err }, 'removing an orphan workload failed; retried at a later sweep');
      })
      .finally(() => this.#removing.delete(key));
    this.#removing.set(key, work);
  }
}

/** What the sweep hands over with `id`: nothing to go on from an agent that answers bare ids. */
function lookOf(observed: HostListing['observed'], rows: readonly SweptInstance[] | undefined, id: number, at: number): SweptLook | null {
  const row = rows?.find((r) => r.id === id);
  if (observed === null || row === undefined) return null;
  const w = observed.find((o) => o.id === id);
  return { observation: w?.observation ?? { state: 'absent' }, at, row };
}

/**
 * A chunk's listings as they come: those not yet compared (`take`), how many are still to come, and waits for
 * them. Each listing settles on its own (the host's calls are bounded by agentCallTimeoutMs) and never rejects.
 */
class Arrivals {
  #got: (readonly [number, Listed | null])[] = [];
  #left: number;
  #wake: (() => void) | null = null;

  constructor(listings: readonly Promise<readonly [number, Listed | null]>[]) {
    this.#left = listings.length;
    for (const p of listings)
      void p.then((a) => {
        this.#got.push(a);
        this.#left--;
        this.#wake?.();
      });
  }

  /** Listings still to come. */
  get left(): number {
    return this.#left;
  }

  /** Listings come and not yet taken. */
  get ready(): number {
    return this.#got.length;
  }

  take(): (readonly [number, Listed | null])[] {
    const got = this.#got;
    this.#got = [];
    return got;
  }

  /** Until every listing came, or `ms` passed. */
  all(ms: number): Promise<void> {
    return this.#until(() => this.#left === 0, ms);
  }

  /** Until a listing not yet taken is there (one came, or every one came). */
  some(): Promise<void> {
    return this.#until(() => this.#got.length > 0 || this.#left === 0, null);
  }

  #until(done: () => boolean, ms: number | null): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const end = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = ms === null ? undefined : setTimeout(end, ms);
      this.#wake = () => void (done() && end());
    });
  }
}

import { HOST_OFFLINE } from '../../domain/instance/observed-record.js';
import type { ControlContext } from '../context.js';
import { FailureLog } from '../failure-log.js';
import { IntervalPass } from './interval-pass.js';
import { isGantryError } from '../../domain/errors.js';
import { checkDefinition } from '../ml/models.js';
import { reachHost } from '../reach-host.js';

/**
 * Rows of `gateway_pending` kept this long after their last write. Every reader ignores a row older than
 * 5 s (a replica gone); each replica that ever started left one row per endpoint it held requests for,
 * forever. An hour is far past any reader's window and any clock skew between replicas.
 */
const GATEWAY_PENDING_KEEP_MS = 3_600_000;
/**
 * A code upload's temp file not written to for this long was cut short by a crash (kill -9, power): a put under
 * way writes as its body arrives, and requestTimeoutMs (2 min) bounds a request's body. An hour is far past it
 * and any clock skew between replicas sharing the blob store.
 */
const BLOB_TEMP_KEEP_MS = 3_600_000;
/** Rate buckets untouched for ten minutes: full again long since (within two seconds), and past any clock skew. */
const RATE_BUCKET_KEEP_MS = 600_000;
/**
 * A definition whose parts all arrived this long ago with no outcome of its check is checked again. Far past
 * the check of the largest definition the byte bounds let in (it streams from the database), so a check
 * still under way is not run twice.
 */
const UNCHECKED_AFTER_MS = 600_000;
/**
 * Checks of one whole definition taken again (claims) before it is refused. A check that brings its process down
 * (a definition that exhausts the scan's memory) never records an outcome: without a bound it would be taken
 * again every UNCHECKED_AFTER_MS, bringing a replica down each time, until its model is deleted. Three, after the
 * check at the last part: a replica lost to something else (a deploy, a host) during one check is not enough to
 * refuse a definition; nor a database lost during one, which cuts a check short the same way. Only a definition
 * whose checks each took more than UNCHECKED_AFTER_MS could be refused while one is still under way, and that
 * check's outcome still replaces the refusal (`setModelDefinitionChecked`).
 */
const DEFINITION_CHECK_ATTEMPTS = 3;

/**
 * Periodic chores: the offline mark for instances of silent hosts, expiry of result URLs, samples
 * past their retention (samplesRetentionMs), gateways' held-request rows of replicas long gone, destroyed workers' last reports,
 * the parts of model definitions left incomplete (incompleteDefinitionTtlMs), code uploads a crash cut short, and
 * volume clones whose copy was never confirmed. (Orphan
 * workloads, once found here, are found by the reconciler's host sweep: `host-sweep.ts`, decision 017.)
 */
export class Housekeeping {
  readonly #ctx: ControlContext;
  /** Never two passes at once. */
  readonly #loop: IntervalPass;
  /** Definitions checked again, in a loop of their own: a check streams up to gigabytes, the chores wait for none. */
  readonly #checks: IntervalPass;
  /** When this replica's loop began: hosts were silent to it only since then (it was down before). */
  #startedAt: number | null = null;
  readonly #failures: FailureLog;
  /** The last pass failed because the database could not be reached. */
  #databaseGone = false;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
    this.#failures = new FailureLog(ctx.log.child({ component: 'housekeeping' }), 'housekeeping', FailureLog.timing(ctx));
    this.#loop = new IntervalPass(ctx.settings.sweepIntervalMs, () => this.#failures.run(() => this.#chores(), undefined));
    this.#checks = new IntervalPass(ctx.settings.sweepIntervalMs, () => this.#failures.run(() => this.#checkUncheckedDefinitions(), undefined));
  }

  start(): void {
    this.#startedAt = this.#ctx.clock.now();
    for (const l of [this.#loop, this.#checks]) {
      l.start();
      void l.runNow();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.#loop.stop(), this.#checks.stop()]);
  }

  /** One pass of every chore, and of the definitions' checks (a test's, an operator's). */
  async runOnce(): Promise<void> {
    await this.#chores();
    await this.#checkUncheckedDefinitions();
  }

  async #chores(): Promise<void> {
    try {
      await this.#markOffline();
      await this.#ctx.store.purgeResults(this.#ctx.clock.now());
      await this.#ctx.store.pruneSamples(this.#ctx.clock.now() - this.#ctx.settings.samplesRetentionMs);
      await this.#ctx.store.pruneGatewayPending(this.#ctx.clock.now() - GATEWAY_PENDING_KEEP_MS);
      await this.#ctx.store.pruneWorkerReports();
      // One row per caller address and key ever limited, on PostgreSQL: an idle one is a full bucket, as a new one.
      await this.#ctx.store.pruneRateBuckets(this.#ctx.clock.now() - RATE_BUCKET_KEEP_MS);
      await this.#forgetIncompleteDefinitions();
      await this.#giveUpClones();
      const temps = await this.#ctx.blobs.pruneTemp(BLOB_TEMP_KEEP_MS);
      if (temps > 0) this.#ctx.log.info({ component: 'housekeeping', files: temps }, 'code uploads a crash cut short removed from the blob store');
    } catch (err) {
      // Only the database's absence spares hosts afterwards: a chore that keeps failing otherwise must not.
      if (isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE') this.#databaseGone = true;
      throw err;
    }
  }

  /**
   * Parts of trained-model definitions never completed (total_parts announced, fewer sent) would be
   * kept until their model is deleted: forgotten once none arrived for incompleteDefinitionTtlMs.
   */
  async #forgetIncompleteDefinitions(): Promise<void> {
    const ttl = this.#ctx.settings.incompleteDefinitionTtlMs;
    if (ttl === 0) return;
    const models = await this.#ctx.store.forgetIncompleteDefinitions(this.#ctx.clock.now() - ttl);
    if (models.length > 0) this.#ctx.log.info({ component: 'housekeeping', models, ttlMs: ttl }, 'parts of incomplete model definitions forgotten');
  }

  /**
   * Definitions whose parts all arrived but whose check never ended (a crash, a database error while it read
   * them back) are checked again here; their owner would otherwise have to upload a part again to see the model
   * fully defined. Only ten minutes on (UNCHECKED_AFTER_MS) after the parts' last write or the last claim: a
   * check under way reads a large upload for seconds. Refused after DEFINITION_CHECK_ATTEMPTS claims.
   */
  async #checkUncheckedDefinitions(): Promise<void> {
    const ctx = this.#ctx;
    for (const m of await ctx.store.uncheckedDefinitions(ctx.clock.now() - UNCHECKED_AFTER_MS)) {
      const who = { component: 'housekeeping', accountId: m.accountId, modelId: m.modelId, attempts: m.attempts };
      if (m.attempts >= DEFINITION_CHECK_ATTEMPTS) {
        const reason =
          `The check of the definition did not end in ${m.attempts + 1} attempts (each stopped with no outcome: ` +
          'its process went down, or the database was lost); upload a part again to check it again, or delete the model.';
        if (await ctx.store.giveUpDefinitionCheck(m.accountId, m.modelId, m.stamp, m.attempts, reason))
          ctx.log.warn(who, 'trained model definition refused: its checks never ended');
        continue;
      }
      if (!(await ctx.store.claimDefinitionCheck(m.accountId, m.modelId, m.stamp, m.attempts, ctx.clock.now()))) continue;
      await checkDefinition(ctx, m.accountId, m.modelId, m.totalParts, m.stamp).catch((err: unknown) => {
        if (isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE') throw err;
        ctx.log.info({ ...who, err }, 'trained model definition checked again: not fully defined');
      });
    }
  }

  /**
   * Volume clones whose copy was never confirmed past their bound (the control plane that asked for it went
   * down during the copy: `cloneVolume`): the row goes (its space back to the offer; it was never billed) and
   * the host is asked to remove the partial data, else `cleanup machine` does later. Only a row still cloning
   * is deleted, so replicas doing this at once remove each clone once.
   */
  async #giveUpClones(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    for (const v of await ctx.store.expiredVolumeClones(now)) {
      if (!(await ctx.store.giveUpVolumeClone(v.id, now))) continue;
      const who = { component: 'housekeeping', volumeId: v.id, machineId: v.machineId, accountId: v.accountId };
      let dataRemoved = false;
      try {
        const host = await reachHost(ctx, v.machineId);
        if (host !== undefined) {
          await host.storage({ kind: 'deleteVolume', volumeId: v.id });
          dataRemoved = true;
        }
      } catch (err) {
        ctx.log.warn({ ...who, err }, 'data of a clone given up not removed yet; cleanup machine removes it');
      }
      ctx.log.warn({ ...who, dataRemoved }, 'volume clone given up: its copy was never confirmed');
    }
  }

  /** Instances of hosts silent for machineOfflineMs become `unknown`; the reconciler sets truth when the host is back. */
  async #markOffline(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const since = now - ctx.settings.machineOfflineMs;
    // The last pass found the database gone: no heartbeat could be recorded meanwhile, by any replica, so
    // hosts are silent to the database by its absence, not theirs. They get machineOfflineMs from the last
    // pass that found it gone (checked first: the wait below must not hide that it is still gone).
    if (this.#databaseGone) {
      this.#databaseGone = false;
      this.#startedAt = now;
      return;
    }
    // Just started (after a restart, or a long outage of the control plane): agents have not had
    // machineOfflineMs to reach it yet, so a host is not called offline for the control plane's own absence.
    if (this.#startedAt !== null && this.#startedAt > since) return;
    const ids = await ctx.store.markInstancesOfSilentMachines(
      since,
      `${HOST_OFFLINE}no heartbeat for over ${Math.round(ctx.settings.machineOfflineMs / 1000)} s`,
      now,
    );
    if (ids.length > 0) {
      ctx.log.warn({ component: 'housekeeping', instances: ids }, 'host offline; instances marked unknown');
      ctx.metrics.instanceTransitions.inc({ to: 'unknown' }, ids.length);
    }
  }
}

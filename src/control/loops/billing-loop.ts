import { changeInstance } from '../instances/change-instance.js';
import { systemPrincipal } from '../principal.js';
import type { ControlContext } from '../context.js';
import { IntervalPass } from './interval-pass.js';
import { FailureLog } from '../failure-log.js';

/**
 * Settles every open meter each billingIntervalMs (so balances and charge listings stay current; on a fleet
 * where a pass takes longer, after a rest of billingRestFactor times the pass), then
 * stops (not destroys) the running instances of accounts whose balance reached zero (a reserved instance
 * runs on while its deposit lasts: its compute is paid from it). Settling is a
 * compare-and-set per meter, so every replica may run this loop.
 */
export class BillingLoop {
  readonly #ctx: ControlContext;
  readonly #every: IntervalPass;
  readonly #failures: FailureLog;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
    this.#failures = new FailureLog(ctx.log, 'billing pass', FailureLog.timing(ctx));
    this.#every = new IntervalPass(ctx.settings.billingIntervalMs, () => this.#pass(), ctx.settings.billingRestFactor);
  }

  start(): void {
    this.#every.start();
  }

  async stop(): Promise<void> {
    await this.#every.stop();
  }

  /** One pass now, after the loop's own pass in progress (two on one replica would race each other's meters). */
  pass(): Promise<void> {
    return this.#every.runNow();
  }

  async #pass(): Promise<void> {
    const ctx = this.#ctx;
    const timer = ctx.metrics.billingPasses.startTimer();
    try {
      await ctx.store.settleMeters(ctx.clock.now());
      await ctx.store.settleVolumeMeters(ctx.clock.now());
      for (const d of await ctx.store.instancesInDebt()) await this.#stopForCredit(d.instanceId, d.accountId, d.balance);
      timer({ outcome: 'ok' });
      this.#failures.succeeded();
    } catch (err) {
      timer({ outcome: 'failed' });
      this.#failures.failed(err);
    }
  }

  async #stopForCredit(id: number, accountId: number, balance: number): Promise<void> {
    const reason = `Stopped: the account's credit balance is $${balance.toFixed(2)}. Add credit, then start the instance again.`;
    const r = await changeInstance(this.#ctx, systemPrincipal(accountId, 'billing'), id, 'stop', reason);
    if (r.changed) this.#ctx.log.warn({ instanceId: id, accountId, balance }, 'instance stopped: no credit');
  }
}

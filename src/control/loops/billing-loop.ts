import { decideIntent } from '../../domain/instance/intent.js';
import type { ControlContext } from '../context.js';

/**
 * Settles every open meter each billingIntervalMs (so balances and charge listings stay current), then
 * stops (not destroys) the running instances of accounts whose balance reached zero. Settling is a
 * compare-and-set per meter, so every replica may run this loop.
 */
export class BillingLoop {
  readonly #ctx: ControlContext;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#running === null) this.#running = this.pass().finally(() => (this.#running = null));
    }, this.#ctx.settings.billingIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async pass(): Promise<void> {
    const ctx = this.#ctx;
    try {
      await ctx.store.settleMeters(ctx.clock.now());
      for (const d of await ctx.store.instancesInDebt()) await this.#stopForCredit(d.instanceId, d.balance);
    } catch (err) {
      ctx.log.error({ err }, 'billing pass failed');
    }
  }

  async #stopForCredit(id: number, balance: number): Promise<void> {
    const ctx = this.#ctx;
    const inst = await ctx.store.getInstance(id);
    const change = inst && decideIntent(inst, 'stop');
    if (!inst || !change) return;
    const msg = `Stopped: the account's credit balance is $${balance.toFixed(2)}. Add credit, then start the instance again.`;
    if (await ctx.store.writeIntent(id, inst.generation, { ...change, acquireGpus: false, statusMsg: msg, now: ctx.clock.now() })) {
      ctx.log.warn({ instanceId: id, accountId: inst.accountId, balance }, 'instance stopped: no credit');
      ctx.wake();
    }
  }
}

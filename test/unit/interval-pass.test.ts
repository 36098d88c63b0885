import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntervalPass } from '../../src/control/loops/interval-pass.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a pass that takes `passMs` on an interval of 5 ms for `forMs`; each pass's start and end. */
async function run(restFactor: number, passMs: number, forMs: number): Promise<{ began: number; ended: number }[]> {
  const passes: { began: number; ended: number }[] = [];
  let inFlight = 0;
  const every = new IntervalPass(
    5,
    async () => {
      const began = performance.now();
      assert.equal(++inFlight, 1, 'never two passes at once');
      await sleep(passMs);
      inFlight--;
      passes.push({ began, ended: performance.now() });
    },
    restFactor,
  );
  every.start();
  await sleep(forMs);
  await every.stop();
  return passes;
}

describe('a pass on an interval (billing, sampling)', () => {
  it('rests restFactor times the last pass after it ends, then runs on the next tick', async () => {
    const passes = await run(3, 20, 400);
    assert.ok(passes.length >= 2, `passes: ${passes.length}`);
    for (let i = 1; i < passes.length; i++) {
      const [prev, next] = [passes[i - 1]!, passes[i]!];
      // IntervalPass reads its clocks outside the test's (before the pass begins, after it ended): its rest is
      // at least this long; the slack is for timers only.
      assert.ok(next.began >= prev.ended + 3 * (prev.ended - prev.began) - 2, `pass ${i} began ${next.began - prev.ended} ms after the last ended`);
    }
  });

  it('with no rest factor, a pass that outgrew its interval runs back to back (a tick apart)', async () => {
    const passes = await run(0, 20, 400);
    assert.ok(passes.length >= 3, `passes: ${passes.length}`);
  });

  it('a pass asked for by hand waits for the one in progress, and ticks wait for it', async () => {
    const log: string[] = [];
    let n = 0;
    let inFlight = 0;
    const every = new IntervalPass(5, async () => {
      const i = ++n;
      assert.equal(++inFlight, 1, 'never two passes at once');
      log.push(`begin ${i}`);
      await sleep(30);
      log.push(`end ${i}`);
      inFlight--;
    });
    every.start();
    while (n === 0) await sleep(1);
    await every.runNow();
    await every.stop();
    assert.deepEqual(log.slice(0, 4), ['begin 1', 'end 1', 'begin 2', 'end 2']);
    assert.ok(log.length % 2 === 0 && log.at(-1)?.startsWith('end'), 'stop waited for the last pass');
  });

  it('a failed pass does not keep the next from running', async () => {
    let n = 0;
    const every = new IntervalPass(1_000, async () => {
      if (++n === 1) throw new Error('first fails');
    });
    await assert.rejects(every.runNow(), /first fails/);
    await every.runNow();
    assert.equal(n, 2);
    await every.stop();
  });
});

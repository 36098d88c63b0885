import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyPermits } from '../../src/api/edge/body-permits.js';

const never = (): AbortSignal => new AbortController().signal;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('body permits: at most max at once, the rest wait their turn within a bound', () => {
  it('grants max at once; the next waits and gets the first permit released, first come first served', async () => {
    const changes: string[] = [];
    const p = new BodyPermits({ max: 2, waitMs: 10_000, onChange: (h, w) => changes.push(`${h}/${w}`) });
    const a = await p.acquire(never());
    const b = await p.acquire(never());
    assert.ok(a !== null && b !== null);
    const order: string[] = [];
    const c = p.acquire(never()).then((r) => (order.push('c'), r));
    const d = p.acquire(never()).then((r) => (order.push('d'), r));
    await tick();
    assert.deepEqual([p.held, p.waiting], [2, 2]);
    a();
    a(); // a second release of one permit gives nothing back
    const rc = await c;
    await tick();
    assert.deepEqual(order, ['c']);
    assert.deepEqual([p.held, p.waiting], [2, 1]);
    b();
    const rd = await d;
    assert.deepEqual(order, ['c', 'd']);
    rc?.();
    rd?.();
    assert.deepEqual([p.held, p.waiting], [0, 0]);
    assert.equal(changes.at(-1), '0/0');
  });

  it('refuses after waitMs (at once with 0), and a waiter whose caller left leaves the queue', async () => {
    const p = new BodyPermits({ max: 1, waitMs: 30 });
    const a = await p.acquire(never());
    const t0 = Date.now();
    assert.equal(await p.acquire(never()), null);
    assert.ok(Date.now() - t0 >= 25);
    const left = new AbortController();
    const w = p.acquire(left.signal);
    left.abort();
    assert.equal(await w, null);
    assert.equal(p.waiting, 0);
    a?.();
    assert.equal(p.held, 0);
    const now = new BodyPermits({ max: 1, waitMs: 0 });
    await now.acquire(never());
    assert.equal(await now.acquire(never()), null);
  });

  it('one owner holds at most perOwner: its next waits though a permit is free, which another owner takes at once', async () => {
    const p = new BodyPermits({ max: 2, perOwner: 1, waitMs: 10_000 });
    const a1 = await p.acquire(never(), 'a');
    let a2: (() => void) | null = null;
    const waiting = p.acquire(never(), 'a').then((r) => (a2 = r));
    await tick();
    assert.deepEqual([p.held, p.waiting, a2], [1, 1, null], "a's second waits: a slow sender must not hold every permit");
    const b1 = await p.acquire(never(), 'b');
    assert.ok(b1 !== null, "b's first comes at once");
    a1?.();
    await waiting;
    assert.ok(a2 !== null, "a's first released: its second goes on");
    assert.deepEqual([p.held, p.waiting], [2, 0]);
    b1();
    (a2 as () => void)();
    assert.equal(p.held, 0);
  });
});

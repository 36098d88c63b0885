import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrincipalCache } from '../../src/control/accounts/principal-cache.js';
import { systemPrincipal, type Principal } from '../../src/control/principal.js';
import { LocalChangeFeed } from '../../src/store/change-feed.js';

const of = (accountId: number, actorId = accountId): Principal => ({ ...systemPrincipal(accountId, `u${accountId}`), actorId });

/** A loader that counts its calls (a store read each). */
function loader(p: Principal): { load: () => Promise<Principal>; calls: () => number } {
  let n = 0;
  return {
    load: async () => {
      n++;
      return p;
    },
    calls: () => n,
  };
}

describe('PrincipalCache', () => {
  const cache = (o: { maxEntries?: number; maxAgeMs?: number; now?: () => number } = {}) =>
    new PrincipalCache({ maxEntries: o.maxEntries ?? 100, maxAgeMs: o.maxAgeMs ?? 60_000, now: o.now ?? (() => 0) });

  it('reads a credential once, then answers from memory', async () => {
    const c = cache();
    const l = loader(of(1));
    for (let i = 0; i < 5; i++) assert.equal((await c.resolve('h:a', l.load)).accountId, 1);
    assert.equal(l.calls(), 1);
  });

  it('remembers no refusal: the next request reads again', async () => {
    const c = cache();
    let n = 0;
    const refuse = async (): Promise<Principal> => {
      n++;
      throw new Error('unknown key');
    };
    await assert.rejects(c.resolve('h:x', refuse));
    await assert.rejects(c.resolve('h:x', refuse));
    assert.equal(n, 2);
    assert.equal(c.size, 0);
  });

  it('drops the principals an account acts for or as; null drops all', async () => {
    const c = cache();
    await c.resolve('h:own', loader(of(1)).load);
    await c.resolve('h:team-key', loader(of(7, 1)).load); // account 1's key for team 7
    await c.resolve('h:other', loader(of(2)).load);
    c.drop(7);
    assert.equal(c.size, 2);
    c.drop(1);
    assert.equal(c.size, 1);
    c.drop(null);
    assert.equal(c.size, 0);
  });

  it('a lookup in flight when a change arrives is used once but not remembered', async () => {
    const c = cache();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = c.resolve('h:a', async () => {
      await gate;
      return of(1);
    });
    c.drop(1); // the key was revoked while its old row was being read
    release();
    await slow;
    assert.equal(c.size, 0);
  });

  it('follows the credential topic of a change feed', async () => {
    const feed = new LocalChangeFeed();
    const c = cache();
    c.follow(feed);
    await c.resolve('h:a', loader(of(3)).load);
    feed.publish('instance', 3);
    await new Promise((r) => setImmediate(r));
    assert.equal(c.size, 1, 'other topics are not its business');
    feed.publish('credential', 3);
    await new Promise((r) => setImmediate(r));
    assert.equal(c.size, 0);
  });

  it('is bounded: the least recently used goes first', async () => {
    const c = cache({ maxEntries: 2 });
    const a = loader(of(1));
    await c.resolve('h:a', a.load);
    await c.resolve('h:b', loader(of(2)).load);
    await c.resolve('h:a', a.load); // a is now the most recent
    await c.resolve('h:c', loader(of(3)).load); // evicts b
    assert.equal(c.size, 2);
    await c.resolve('h:a', a.load);
    assert.equal(a.calls(), 1, 'a stayed');
    const b = loader(of(2));
    await c.resolve('h:b', b.load);
    assert.equal(b.calls(), 1, 'b was read again');
  });

  it('reads again after the safety-net age, and not at all with no entries allowed', async () => {
    let now = 0;
    const c = cache({ maxAgeMs: 1_000, now: () => now });
    const l = loader(of(1));
    await c.resolve('h:a', l.load);
    now = 999;
    await c.resolve('h:a', l.load);
    now = 1_000;
    await c.resolve('h:a', l.load);
    assert.equal(l.calls(), 2);
    const off = cache({ maxEntries: 0 });
    const m = loader(of(1));
    await off.resolve('h:a', m.load);
    await off.resolve('h:a', m.load);
    assert.equal(m.calls(), 2);
    assert.equal(off.size, 0);
  });
});

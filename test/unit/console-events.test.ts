import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { ConsoleEvents, type PushSource } from '../../src/api/dialects/console/events.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import type { Principal } from '../../src/control/principal.js';
import { ALL_PERMISSIONS } from '../../src/domain/account/permissions.js';
import { LocalChangeFeed } from '../../src/store/change-feed.js';

/** A response that keeps what is written to it. */
class FakeResponse extends EventEmitter {
  text = '';
  writableEnded = false;
  destroyed = false;
  writableLength = 0;
  writeHead(): this {
    return this;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): void {
    this.writableEnded = true;
    // A real response closes once what it holds is sent: one whose client reads nothing never does.
    if (this.writableLength === 0) this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  events(topic: string): any[] {
    return [...this.text.matchAll(new RegExp(`event: ${topic}\\ndata: (.*)\\n\\n`, 'g'))].map((m) => JSON.parse(m[1] as string));
  }
}

const who = (accountId: number, o: Partial<Principal> = {}): Principal => ({
  accountId,
  username: `u${accountId}`,
  isAdmin: false,
  scope: 'full',
  instanceId: null,
  keyId: accountId * 10,
  actorId: accountId,
  scopes: ALL_PERMISSIONS,
  ...o,
});

/** The hub over an in-process change feed and a source that counts its reads; instance 7 and 8 are account 1's. */
function setUp(load?: PushSource['load']) {
  const changes = new LocalChangeFeed();
  const control = {
    ctx: { store: { changes }, log: { warn: () => undefined } },
    authenticate: () => Promise.reject(new Error('revoked')),
  } as unknown as ControlPlane;
  let loads = 0;
  const source: PushSource = {
    topic: 'instance',
    feeds: ['instance', 'instance-status'],
    action: 'instance.read',
    kind: 'instance',
    load: async (c, id) => {
      loads++;
      return load !== undefined ? load(c, id) : { accountId: 1, row: { id, n: loads } };
    },
  };
  const hub = new ConsoleEvents(control, { heartbeatMs: 60_000, coalesceMs: 50, streamsPerKey: 5 });
  hub.register(source);
  const open = (p: Principal): FakeResponse => {
    const r = new FakeResponse();
    hub.open(p, null, r as unknown as ServerResponse);
    return r;
  };
  return { changes, hub, open, loads: () => loads };
}

/** Resolves once `pred` holds (the hub's pushes run on timers). */
async function until(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), 'timed out');
}

describe("the console's push hub", () => {
  it('reads a burst of changes to one record once, for every stream, and writes it only where the key may read it', async () => {
    const t = setUp();
    const mine = [t.open(who(1)), t.open(who(1)), t.open(who(1))];
    const theirs = t.open(who(2));
    const ownKey = t.open(who(1, { scope: 'instance', instanceId: 7, keyId: 99 }));
    const otherKey = t.open(who(1, { scope: 'instance', instanceId: 8, keyId: 98 }));
    for (let i = 0; i < 20; i++) t.changes.publish(i % 2 === 0 ? 'instance' : 'instance-status', 7);
    await until(() => mine.every((r) => r.events('instance').length === 1));
    assert.equal(t.loads(), 1, 'one read for the whole burst and all streams');
    for (const r of mine) assert.deepEqual(r.events('instance'), [{ id: 7, row: { id: 7, n: 1 } }]);
    assert.equal(ownKey.events('instance').length, 1, 'an instance key hears of its own instance');
    assert.deepEqual(theirs.events('instance'), [], "another account's stream hears nothing");
    assert.deepEqual(otherKey.events('instance'), [], "another instance's key hears nothing");
    t.hub.close();
  });

  it('a change after a push is pushed again once the window has passed; a resync reaches every stream', async () => {
    const t = setUp();
    const r = t.open(who(1));
    const other = t.open(who(2));
    t.changes.publish('instance', 7);
    await until(() => r.events('instance').length === 1);
    t.changes.publish('instance', 7);
    t.changes.publish('instance', 7);
    await until(() => r.events('instance').length === 2);
    assert.equal(t.loads(), 2);
    t.changes.publish('instance', null);
    await until(() => other.events('instance').length === 1);
    assert.deepEqual(other.events('instance'), [{ id: null }]);
    t.hub.close();
  });

  it("bounds the streams per key, frees a place when one ends, and ends a revoked key's streams", async () => {
    const t = setUp();
    const open = Array.from({ length: 5 }, () => t.open(who(3)));
    assert.throws(() => t.open(who(3)), { code: 'CONSOLE_STREAMS_LIMIT' });
    open[0]!.end();
    const again = new FakeResponse();
    t.hub.open(who(3), 'a-key', again as unknown as ServerResponse);
    assert.equal(t.hub.streams, 5);
    t.changes.publish('credential', null);
    await until(() => again.writableEnded);
    assert.equal(t.hub.streams, 4, 'only the stream whose key was authenticated again and refused ended');
    t.hub.close();
    assert.equal(t.hub.streams, 0);
  });

  it("cuts a stream whose client reads nothing once it holds a MiB, and frees its key's place", async () => {
    const t = setUp();
    const open = Array.from({ length: 5 }, () => t.open(who(1, { keyId: 77 })));
    const stalled = open[0]!;
    stalled.writableLength = 2 << 20;
    t.changes.publish('instance', 7);
    await until(() => stalled.destroyed);
    assert.equal(t.hub.streams, 4);
    assert.doesNotThrow(() => t.open(who(1, { keyId: 77 })));
    t.hub.close();
  });

  it('a slow read of a record is not written after a later read of it that answered first (a deleted row stays deleted)', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let reads = 0;
    const t = setUp(async (_c, id) => {
      // The first read began before the deletion and answers after the second, which read it deleted.
      if (++reads === 1) {
        await slow;
        return { accountId: 1, row: { id, name: 'still here' } };
      }
      return { accountId: 1, row: null };
    });
    const r = t.open(who(1));
    t.changes.publish('instance', 7);
    await until(() => reads === 1);
    t.changes.publish('instance', 7);
    await until(() => r.events('instance').length === 1);
    release();
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(r.events('instance'), [{ id: 7, row: null }], 'only the later read is written');
    t.changes.publish('instance', 7);
    await until(() => r.events('instance').length === 2);
    assert.equal(reads, 3, 'a later change is read and written again');
    t.hub.close();
  });

  it('a later read that fails keeps the slow older one from landing, and the record is read again', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let reads = 0;
    const t = setUp(async (_c, id) => {
      const n = ++reads;
      if (n === 1) {
        await slow;
        return { accountId: 1, row: { id, name: 'still here' } };
      }
      if (n === 2) throw new Error('database away');
      return { accountId: 1, row: null };
    });
    const r = t.open(who(1));
    t.changes.publish('instance', 7);
    await until(() => reads === 1);
    t.changes.publish('instance', 7);
    await until(() => reads === 3 && r.events('instance').length === 1);
    release();
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(r.events('instance'), [{ id: 7, row: null }], 'the failed read was retried; the older read was not written');
    t.hub.close();
  });
});

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { openEvents } from '../helpers/event-stream.js';
import { ONE_STORE, TEST_STORES } from '../helpers/stores.js';

/**
 * The console's push channel (`GET /console/api/events`): a change to an instance reaches its
 * account's streams as the listing row, never another account's; streams per key are bounded (429 in
 * the console's error shape); the streams end when the server closes.
 */
for (const ts of TEST_STORES) {
  describe(`the console's event stream (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let alice: { id: number; api_key: string };
    let bob: { id: number; api_key: string };
    let machine: number;

    before(async () => {
      g = await startTestGantry(ts, { settings: { consoleEventsStreamsPerKey: 2, consoleEventsHeartbeatMs: 100 } });
      const mk = async (name: string) => (await g.api('POST', '/api/v0/users/', { username: name, credit: 100 })).body as { id: number; api_key: string };
      alice = await mk('alice');
      bob = await mk('bob');
      machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    });
    after(() => g.dispose());

    it("pushes the account's instance as its listing row, live, and not another account's", async () => {
      const stream = await openEvents(g.url, alice.api_key);
      assert.equal(stream.status, 200);
      try {
        await stream.waitFor((e) => e.event === 'hello', 5000, 'hello');
        const theirs = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', runtype: 'ssh' }, { key: bob.api_key });
        assert.equal(theirs.status, 200, theirs.text);
        const bobs = theirs.body.new_contract as number;
        await g.waitInstance(bobs, (r) => r.actual_status === 'running', 20_000, bob.api_key);
        const mine = await g.api(
          'PUT',
          `/api/v0/asks/${machine * 1000 + 1}/`,
          { image: 'x', onstart: 'sleep 600', runtype: 'ssh', label: 'pushed' },
          { key: alice.api_key },
        );
        assert.equal(mine.status, 200, mine.text);
        const id = mine.body.new_contract as number;
        const running = await stream.waitFor((e) => e.event === 'instance' && e.data.id === id && e.data.row?.actual_status === 'running', 20_000, 'running');
        assert.equal(running.data.row.label, 'pushed');
        assert.equal(running.data.row.id, id);
        assert.deepEqual(
          stream.events.filter((e) => e.data?.id === bobs),
          [],
          "another account's instance is not pushed",
        );
        // A new label is pushed too (label-instance.ts publishes it).
        const relabel = await g.api('PUT', `/api/v0/instances/${id}/`, { label: 'renamed' }, { key: alice.api_key });
        assert.equal(relabel.status, 200, relabel.text);
        await stream.waitFor((e) => e.event === 'instance' && e.data.id === id && e.data.row?.label === 'renamed', 20_000, 'relabelled');
        const gone = await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, { key: alice.api_key });
        assert.equal(gone.status, 200, gone.text);
        await stream.waitFor((e) => e.event === 'instance' && e.data.id === id && e.data.row === null, 20_000, 'destroyed');
      } finally {
        stream.close();
      }
    });

    it("bounds a key's open streams: one more is a 429 in the console's error shape", async () => {
      const one = await openEvents(g.url, alice.api_key);
      const two = await openEvents(g.url, alice.api_key);
      try {
        assert.equal(one.status, 200);
        assert.equal(two.status, 200);
        const three = await openEvents(g.url, alice.api_key);
        assert.equal(three.status, 429);
        assert.equal(three.body.error.code, 'CONSOLE_STREAMS_LIMIT');
        assert.match(three.body.error.message, /at most 2/);
        // Another key is counted on its own.
        const other = await openEvents(g.url, bob.api_key);
        assert.equal(other.status, 200);
        other.close();
      } finally {
        one.close();
        two.close();
      }
      // A closed stream frees its place.
      await assert.doesNotReject(async () => {
        for (let i = 0; i < 100; i++) {
          const again = await openEvents(g.url, alice.api_key);
          again.close();
          if (again.status === 200) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('the closed streams were not freed');
      });
    });

    it('needs a key, and sends heartbeats', async () => {
      const none = await g.api('GET', '/console/api/events', undefined, { key: null });
      assert.equal(none.status, 401);
      assert.equal(typeof none.body.error.message, 'string');
      const res = await fetch(`${g.url}/console/api/events`, { headers: { authorization: `Bearer ${alice.api_key}` } });
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes(': keep-alive')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      await reader.cancel();
      assert.match(text, /: keep-alive/);
    });

    it("ends a revoked key's streams; the other keys' streams go on", async () => {
      const k = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'console tab' }, { key: alice.api_key });
      assert.equal(k.status, 200, k.text);
      const doomed = await openEvents(g.url, k.body.key as string);
      const kept = await openEvents(g.url, bob.api_key);
      try {
        assert.equal(doomed.status, 200);
        assert.equal(kept.status, 200);
        const del = await g.api('DELETE', `/api/v0/auth/apikeys/${k.body.id}/`, undefined, { key: alice.api_key });
        assert.equal(del.status, 200, del.text);
        await doomed.ended;
        // Bob's stream still hears of Bob's instance.
        const bobs = (await g.api('GET', '/api/v0/instances/', undefined, { key: bob.api_key })).body.instances[0].id as number;
        const stop = await g.api('PUT', `/api/v0/instances/${bobs}/`, { state: 'stopped' }, { key: bob.api_key });
        assert.equal(stop.status, 200, stop.text);
        await kept.waitFor((e) => e.event === 'instance' && e.data.id === bobs && e.data.row?.intended_status === 'stopped', 20_000, "Bob's stop");
      } finally {
        kept.close();
        doomed.close();
      }
    });

    it('ends open streams when the server closes', async () => {
      const stream = await openEvents(g.url, alice.api_key);
      assert.equal(stream.status, 200);
      await stream.waitFor((e) => e.event === 'hello', 5000, 'hello');
      await g.app.close();
      await stream.ended;
    });
  });
}

for (const ts of ONE_STORE) {
  describe(`a console event stream that opens as the server closes (${ts.name})`, { skip: ts.skip }, () => {
    it('is refused (503 SHUTTING_DOWN), and the close does not wait for the console to go', async () => {
      const g = await startTestGantry(ts);
      try {
        // A key not yet remembered, so its stream's request is authenticated, just as the close begins (its
        // preClose hook ends the streams).
        const { api_key: key } = (await g.api('POST', '/api/v0/users/', { username: 'late', credit: 1 })).body as { api_key: string };
        const authenticate = g.control.authenticate.bind(g.control);
        let authenticating!: () => void;
        const inAuth = new Promise<void>((r) => (authenticating = r));
        let release!: () => void;
        const closing = new Promise<void>((r) => (release = r));
        g.control.authenticate = async (...args: Parameters<typeof authenticate>) => {
          const p = await authenticate(...args);
          authenticating();
          await closing;
          return p;
        };
        // Its own connection, closed after the answer (a kept-alive one would hold the close until its idle timeout).
        const req = request(`${g.url}/console/api/events`, { agent: false, headers: { authorization: `Bearer ${key}` } });
        const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
          req.on('response', (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            // A stream that opened never ends by itself: its status is enough.
            if (res.statusCode === 200) resolve({ status: 200, body });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
        });
        req.end();
        try {
          await Promise.race([inAuth, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream was not authenticated')), 10_000).unref())]);
          const closed = g.app.close().then(() => 'closed');
          setTimeout(release, 200);
          const answer = await answered;
          assert.equal(answer.status, 503, answer.body);
          assert.equal((JSON.parse(answer.body) as { error?: { code?: string } }).error?.code, 'SHUTTING_DOWN');
          // Before: the stream opened after the hub had closed, and the server's close waited on it for as long as the console stayed.
          assert.equal(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still waiting'), 5000))]), 'closed');
        } finally {
          req.destroy();
        }
      } finally {
        await g.dispose();
      }
    });
  });
}

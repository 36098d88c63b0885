import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RoutingView } from '../../src/control/serverless/routing.js';
import { endpointOfReportRef, reportRef } from '../../src/control/keys.js';
import { RouteKeys } from '../../src/gateway/route-keys.js';
import { routeSigner } from '../../src/domain/serverless/route-keys.js';
import { RouteSigner, type SettingStore } from '../../src/gateway/signing.js';

/** The store's settings as two replicas share them: the first value put stays. */
function settings(): SettingStore {
  const m = new Map<string, string>();
  return {
    getSetting: async (k) => m.get(k) ?? null,
    getOrPutSetting: async (k, v) => {
      if (!m.has(k)) m.set(k, v);
      return m.get(k) as string;
    },
  };
}

const checks = (pem: string, url: string, signature: string): boolean =>
  verify('sha256', Buffer.from(RouteSigner.message(url)), createPublicKey(pem), Buffer.from(signature, 'base64'));

describe('route keys: one per endpoint, the server key for workers that report without one', () => {
  it("an endpoint's signature is checked by its own key only; replicas on one store sign alike", async () => {
    const store = settings();
    const [a, b] = [new RouteKeys(store), new RouteKeys(store)];
    const url = 'http://127.0.0.1:41002';
    const one = await a.endpoint(1);
    const two = await a.endpoint(2);
    await a.server.ready();
    const sig = one.sign(url);
    assert.equal(checks(one.publicKeyPem, url, sig), true);
    assert.equal(checks(two.publicKeyPem, url, sig), false, "another endpoint's workers refuse it");
    assert.equal(checks(a.server.publicKeyPem, url, sig), false);
    assert.equal((await b.endpoint(1)).publicKeyPem, one.publicKeyPem, 'a second replica reads the key the first stored');
  });

  it('a view read is signed per worker, by the key that worker checks with', async () => {
    const keys = new RouteKeys(settings());
    const worker = (id: number, signedBy: number | null) => ({ id, url: `http://w${id}`, perf: 1, working: 0, reportedAt: 0, signedBy });
    const view = { endpointId: 7, workers: [worker(1, 7), worker(2, null)] } as unknown as RoutingView;
    const signed = await keys.signed(view);
    const [w1, w2] = signed.workers;
    assert.equal(checks((await keys.endpoint(7)).publicKeyPem, 'http://w1', w1?.signature as string), true);
    assert.equal(checks(keys.server.publicKeyPem, 'http://w2', w2?.signature as string), true);
  });

  it("the server's key only for workers made before endpoints had keys, until they report through their endpoint's address", () => {
    const lastOld = 41;
    assert.equal(routeSigner({ endpointId: 7, id: 41 }, false, lastOld), null, 'started with the server key');
    assert.equal(routeSigner({ endpointId: 7, id: 41 }, true, lastOld), 7, 'restarted since: its endpoint key');
    assert.equal(routeSigner({ endpointId: 7, id: 42 }, false, lastOld), 7, 'made since: its endpoint key, wherever it reports');
  });

  it('a report address names its endpoint only as this server made it', () => {
    const ref = reportRef('secret', 42);
    assert.equal(endpointOfReportRef('secret', ref), 42);
    assert.equal(endpointOfReportRef('another secret', ref), null);
    assert.equal(endpointOfReportRef('secret', ref.replace(/^42/, '43')), null);
    for (const bad of ['', '42', '42.', `0.${ref.split('.')[1]}`, `${ref}x`, `-1.${ref.split('.')[1]}`])
      assert.equal(endpointOfReportRef('secret', bad), null, bad);
  });
});

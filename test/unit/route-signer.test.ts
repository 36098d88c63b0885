import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { RouteSigner, type SettingStore } from '../../src/gateway/signing.js';

/** The route signing key: read from the store when it holds one, made once otherwise, and only when first needed. */
describe('the route signing key', () => {
  const stored = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it('is read, not made, where the store holds one; nothing is read before it is needed', async () => {
    const calls: string[] = [];
    const store: SettingStore = {
      getSetting: async (k) => (calls.push(`get ${k}`), stored),
      getOrPutSetting: async (k) => (calls.push(`put ${k}`), stored),
    };
    const signer = new RouteSigner(store);
    assert.equal(signer.isReady, false);
    assert.deepEqual(calls, []);
    assert.throws(() => signer.sign('http://w:1'), /not loaded/);
    await Promise.all([signer.ready(), signer.ready()]);
    assert.deepEqual(calls, ['get route_signing_key']);
    assert.ok(signer.publicKeyPem.startsWith('-----BEGIN PUBLIC KEY-----'));
    assert.equal(typeof signer.sign('http://w:1'), 'string');
  });

  it('made where the store holds none, and offered again unchanged after the store failed to take it', async () => {
    const offered: string[] = [];
    let fail = true;
    const store: SettingStore = {
      getSetting: async () => null,
      getOrPutSetting: async (_k, v) => {
        offered.push(v);
        if (fail) throw new Error('database gone');
        return v;
      },
    };
    const signer = new RouteSigner(store);
    await assert.rejects(signer.ready(), /database gone/);
    assert.equal(signer.isReady, false);
    fail = false;
    await signer.ready();
    assert.equal(offered.length, 2);
    assert.equal(offered[0], offered[1], 'one key made, offered twice');
    assert.ok(signer.isReady);
  });
});

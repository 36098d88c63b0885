import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { secretContext } from '../../src/control/accounts/vault.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Env vars a process cannot be started with, or that Gantry and the runtime set, are refused when written
 * (account secrets and an instance's env); a start that fails anyway shows its reason in status_msg.
 */
for (const ts of TEST_STORES) {
  describe(`env var rules and failed starts (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '1x RTX 4090:24GB' });
    });
    after(() => g.dispose());

    const offer = 1001;

    it('refuses secrets named like the variables the runtime or Gantry set, with a NUL byte, or too large', async () => {
      for (const key of [
        'PATH',
        'path',
        'HOME',
        'LD_PRELOAD',
        'LD_AUDIT',
        'GANTRY_URL',
        'GANTRY_ANYTHING',
        'CONTAINER_API_KEY',
        'MASTER_TOKEN',
        'REPORT_ADDR',
        'WORKER_PORT',
        'CONTAINER_ID',
        'VAST_TCP_PORT_80',
      ]) {
        const r = await g.api('POST', '/api/v0/secrets/', { key, value: 'x' });
        assert.equal(r.status, 400, `${key}: ${r.text}`);
        assert.match(r.body.msg, /reserved/, key);
      }
      const nul = await g.api('POST', '/api/v0/secrets/', { key: 'HF_TOKEN', value: 'a\u0000b' });
      assert.equal(nul.status, 400, nul.text);
      assert.match(nul.body.msg, /NUL/);
      const big = await g.api('POST', '/api/v0/secrets/', { key: 'HF_TOKEN', value: 'x'.repeat(64 * 1024 + 1) });
      assert.equal(big.status, 400, big.text);
      // In all: nine values under the single bound add up past the account's total.
      for (let i = 0; i < 8; i++) assert.equal((await g.api('POST', '/api/v0/secrets/', { key: `BIG_${i}`, value: 'x'.repeat(65_000) })).status, 200);
      const over = await g.api('POST', '/api/v0/secrets/', { key: 'BIG_8', value: 'x'.repeat(65_000) });
      assert.equal(over.status, 400, over.text);
      assert.match(over.body.msg, /in all/);
      for (let i = 0; i < 8; i++) assert.equal((await g.api('DELETE', '/api/v0/secrets/', { key: `BIG_${i}` })).status, 200);
      assert.deepEqual((await g.api('GET', '/api/v0/secrets/')).body.secrets, {});
    });

    it('refuses the same in an instance env, as flags or as an object', async () => {
      for (const env of [
        '-e PATH=/tmp',
        '-e LD_PRELOAD=/x.so',
        '-e GANTRY_URL=http://evil',
        { CONTAINER_API_KEY: 'x' },
        { MASTER_TOKEN: 'x' },
        { HF: 'a\u0000b' },
        '-e HF=' + 'x'.repeat(70_000),
      ]) {
        const r = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', env, onstart: 'sleep 1' });
        assert.equal(r.status, 400, `${JSON.stringify(env).slice(0, 40)}: ${r.text}`);
        assert.equal(r.body.code, 'INVALID_ENV', r.text);
      }
    });

    it('shows why a start failed in status_msg (a bad secret stored before these rules)', async () => {
      const me = (await g.api('GET', '/api/v0/users/current/')).body.id as number;
      const ctx = g.control.ctx;
      const { sealed, keyId } = ctx.vault.seal('a\u0000b', secretContext(me, 'OLD_TOKEN'));
      await g.store.putSecret({ accountId: me, name: 'OLD_TOKEN', sealed, keyId, now: Date.now() }, 'create');
      const c = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', onstart: 'sleep 300' });
      assert.equal(c.status, 200, c.text);
      const id = c.body.new_contract as number;
      const row = await g.waitInstance(id, (r) => r.actual_status !== 'created' && r.actual_status !== 'loading' && r.status_msg !== null, 60_000);
      assert.notEqual(row.actual_status, 'running');
      assert.doesNotMatch(String(row.status_msg), /a\u0000b|a\\x00b/, 'the value is not shown');
      assert.match(String(row.status_msg), /failed to start: account env var OLD_TOKEN cannot be used: .*NUL byte/);
      // Later looks at the host (the sweep compares it with the instance) keep the reason, not a guess.
      const swept = async (): Promise<number> => (await ctx.metrics.hostSweeps.get()).values.find((v) => v.labels.outcome === 'swept')?.value ?? 0;
      const before = await swept();
      for (let i = 0; (await swept()) < before + 2; i++) {
        assert.ok(i < 600, 'the host is swept again');
        await new Promise((r) => setTimeout(r, 100));
      }
      const later = (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances as Record<string, unknown>;
      assert.match(String(later.status_msg), /failed to start: account env var OLD_TOKEN cannot be used: .*NUL byte/);
      // Once the cause is gone, starting it again tries again (not "already in that state").
      await g.store.deleteSecret(me, 'OLD_TOKEN');
      const again = await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' });
      assert.equal(again.status, 200, again.text);
      assert.doesNotMatch(String(again.body.msg ?? ''), /already/, again.text);
      await g.waitInstance(id, (r) => r.actual_status === 'running', 60_000);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });
  });
}

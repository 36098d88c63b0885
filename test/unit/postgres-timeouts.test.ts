import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SETTINGS } from '../../src/config/schema.js';
import { FailureLog, REPEAT_LOG_MS } from '../../src/control/failure-log.js';
import { isConnectionError, PG_TIMEOUT_DEFAULTS, type PgTimeouts } from '../../src/store/dialects/pg-retry.js';

/** The store cannot read the config, so it keeps defaults of its own: the settings' defaults, always. */
const SETTING_OF: Readonly<Record<keyof PgTimeouts, keyof typeof SETTINGS>> = {
  connectTimeoutMs: 'databaseConnectTimeoutMs',
  statementTimeoutMs: 'databaseStatementTimeoutMs',
  keepAliveMs: 'databaseKeepAliveMs',
  feedCheckMs: 'changeFeedCheckMs',
  feedReconnectMaxMs: 'changeFeedReconnectMaxMs',
  feedTrustMs: 'changeFeedTrustMs',
  reportEveryMs: 'failureLogRepeatMs',
};

describe('the PostgreSQL bounds as settings', () => {
  it("the store's defaults are the settings' defaults", () => {
    for (const [key, setting] of Object.entries(SETTING_OF) as [keyof PgTimeouts, keyof typeof SETTINGS][]) {
      assert.equal(PG_TIMEOUT_DEFAULTS[key], SETTINGS[setting].default, `${key} and ${setting}`);
    }
    assert.equal(REPEAT_LOG_MS, SETTINGS.failureLogRepeatMs.default);
  });

  it('a statement that got no answer in time counts as the database lost', () => {
    assert.ok(isConnectionError(new Error('Query read timeout')));
  });

  it('a FailureLog repeats its line at the interval it is given', () => {
    const lines: string[] = [];
    const log = { error: (_: unknown, msg: string) => void lines.push(msg), info: () => undefined } as unknown as ConstructorParameters<typeof FailureLog>[0];
    let now = 0;
    const f = new FailureLog(log, 'claiming instances', { now: () => now, repeatMs: 1_000 });
    for (; now < 3_000; now += 250) f.failed(new Error('connect ECONNREFUSED'));
    assert.deepEqual(lines, ['claiming instances failed', 'claiming instances failed (still)', 'claiming instances failed (still)']);
  });
});

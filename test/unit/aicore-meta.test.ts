import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aicoreMeta } from '../../src/api/dialects/aicore/meta.js';
import { parseTtl } from '../../src/domain/serverless/ttl.js';

describe('aicore meta', () => {
  it('advertises the ttl bounds the server enforces', () => {
    const limits = (aicoreMeta(600_000) as { aiApi: { limits: { timeToLiveDeployments: { minimum: string; maximum: string } } } }).aiApi.limits
      .timeToLiveDeployments;
    assert.equal(limits.minimum, '10m');
    assert.notEqual(limits.maximum, '-1', 'a ttl maximum is enforced, so it is not unlimited');
    assert.doesNotThrow(() => parseTtl(limits.maximum, 600_000));
    const days = Number(limits.maximum.slice(0, -1));
    assert.throws(() => parseTtl(`${days + 1}d`, 600_000), /ttl/);
  });
});

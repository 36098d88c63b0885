import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aicoreErrorBody } from '../../src/api/dialects/aicore/errors.js';
import { elasticErrorBody } from '../../src/api/dialects/elastic/errors.js';
import { inferDocs } from '../../src/api/dialects/elastic/infer.js';
import { vastErrorBody } from '../../src/api/dialects/vast/errors.js';
import type { EdgeDeps } from '../../src/api/edge/dialect.js';
import type { Principal } from '../../src/control/principal.js';
import { GantryError } from '../../src/domain/errors.js';
import { stopped, unknownView } from '../../src/gateway/endpoint-traffic.js';

/**
 * The gateway's refusal of a failed endpoint (its workers kept failing) in each dialect's words: the
 * field that says why is called by the dialect's name for it (Vast's status_msg, AI Core's
 * statusMessage), and Elasticsearch's _infer says the deployment is failed, not stopping.
 */
const failed = stopped({ ...unknownView(7), failed: true });
const plain = stopped(unknownView(7));
const req = { id: 'req-1', url: '/x', method: 'POST' };

describe("a failed endpoint's refusal in each dialect", () => {
  it('is ENDPOINT_STOPPED marked failed, a plain stop not', () => {
    assert.equal(failed.code, 'ENDPOINT_STOPPED');
    assert.equal(failed.details.failed, true);
    assert.equal(plain.details.failed, undefined);
    assert.match(failed.message, /^The endpoint failed \(its workers kept failing\) and takes no requests/);
  });

  it("names Vast's status_msg to Vast's callers and AI Core's statusMessage to AI Core's, neither the other's", () => {
    const vast = vastErrorBody(failed, 503);
    assert.equal(vast.code, 'ENDPOINT_STOPPED');
    assert.match(String(vast.msg), /'status_msg'/);
    assert.doesNotMatch(String(vast.msg), /statusMsg|statusMessage/);
    const aicore = (aicoreErrorBody(failed, 503, req) as { error: { message: string; details: Record<string, unknown> } }).error;
    assert.match(aicore.message, /'statusMessage'/);
    assert.doesNotMatch(aicore.message, /status_msg|statusMsg'/);
    assert.equal(aicore.details.failed, true);
  });

  it("says [failed] in Elasticsearch's _infer when routing closed for a failure after the state was read, [stopping] for a stop", async () => {
    const depsRefusing = (refusal: GantryError): EdgeDeps =>
      ({
        control: { ml: { inferenceTarget: () => Promise.resolve({ deploymentId: 'd1', view: { deployment: { uid: 'u1', resourceGroup: 'default' } } }) } },
        gateway: { proxyDeployment: () => Promise.reject(refusal) },
      }) as unknown as EdgeDeps;
    const p = {} as Principal;
    for (const [refusal, reason] of [
      [failed, 'Trained model [d1] is [failed]'],
      [plain, 'Trained model [d1] is [stopping]'],
    ] as const) {
      const err = await inferDocs(depsRefusing(refusal), p, 'd1', [{ text_field: 'x' }], undefined, 1_000).catch((e: unknown) => e);
      assert.ok(err instanceof GantryError, String(err));
      const body = elasticErrorBody(err, 409, req) as { error: { reason: string } };
      assert.equal(body.error.reason, reason);
      assert.doesNotMatch(body.error.reason, /status_msg|statusMsg/);
    }
  });
});

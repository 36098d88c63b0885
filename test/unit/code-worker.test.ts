import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOTSTRAP_ONSTART, bootstrapOnstart, codeWorkerEnvString, NODE_BOOTSTRAP_ONSTART, runsBootstrap } from '../../src/control/serverless/code-worker.js';
import { parseEnv } from '../../src/domain/instance/env.js';

describe("a code deployment's worker template", () => {
  it("runs Vast's bootstrap with the Python a start names", () => {
    assert.equal(BOOTSTRAP_ONSTART.split('\n').pop(), 'exec "${GANTRY_CODE_PYTHON:-python3}" -m vastai.serverless.remote.serve_deployment');
    assert.ok(runsBootstrap({ onstart: BOOTSTRAP_ONSTART, endpointId: 1 }));
    assert.ok(!runsBootstrap({ onstart: BOOTSTRAP_ONSTART, endpointId: null }), 'not a serverless worker');
    assert.ok(!runsBootstrap({ onstart: 'exec node worker.js', endpointId: 1 }));
  });

  it("publishes the worker library's internal port beside the SDK's worker port", () => {
    const ports = (env: string | null) => parseEnv(codeWorkerEnvString(env)).ports.map((p) => p.containerPort);
    assert.deepEqual(ports('-p 3000:3000/tcp -e REPORT_ADDR=http://x'), [3000, 3001]);
    assert.deepEqual(ports('-p 3000:3000/tcp -p 3001:3001/tcp'), [3000, 3001]);
    assert.deepEqual(ports(null), [8000, 8001]);
    assert.deepEqual(parseEnv(codeWorkerEnvString('-e K=V -p 3000:3000/tcp')).env, { K: 'V' });
  });

  it("runs Gantry's Node bootstrap only for a deployment whose env asks for it (the Node SDK's marker)", () => {
    assert.equal(bootstrapOnstart('-p 3000:3000/tcp -e REPORT_ADDR=http://x -e USE_SYSTEM_PYTHON=true'), BOOTSTRAP_ONSTART);
    assert.equal(bootstrapOnstart(null), BOOTSTRAP_ONSTART);
    assert.equal(bootstrapOnstart('-e GANTRY_CODE_RUNTIME=python'), BOOTSTRAP_ONSTART);
    assert.equal(bootstrapOnstart('-e GANTRY_CODE_RUNTIME=node'), NODE_BOOTSTRAP_ONSTART);
    assert.equal(NODE_BOOTSTRAP_ONSTART.split('\n').pop(), 'exec "${GANTRY_CODE_NODE:-node}" "$GANTRY_CODE_WORKER"');
    assert.ok(runsBootstrap({ onstart: NODE_BOOTSTRAP_ONSTART, endpointId: 1 }));
    assert.throws(() => bootstrapOnstart('-e GANTRY_CODE_RUNTIME=ruby'), /it may be 'node'/);
  });
});

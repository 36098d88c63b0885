import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootstrapOnstart, codeWorkerEnvString, runsBootstrap } from '../../src/control/serverless/code-worker.js';
import { parseEnv } from '../../src/domain/instance/env.js';

describe("a code deployment's worker template", () => {
  it("runs Vast's bootstrap with the configured Python, its PYTHONPATH quoted", () => {
    const plain = bootstrapOnstart({ codeWorkerPython: 'python3', codeWorkerPythonPath: null });
    assert.equal(plain.split('\n').pop(), "exec 'python3' -m vastai.serverless.remote.serve_deployment");
    const withPath = bootstrapOnstart({ codeWorkerPython: '/opt/py/bin/python3', codeWorkerPythonPath: "/srv/vast cli:/o'dd" });
    assert.match(withPath, /^export PYTHONPATH='\/srv\/vast cli:\/o'\\''dd'"\$\{PYTHONPATH:\+:\$PYTHONPATH\}"$/m);
    assert.ok(runsBootstrap({ onstart: withPath, endpointId: 1 }));
    assert.ok(!runsBootstrap({ onstart: withPath, endpointId: null }), 'not a serverless worker');
    assert.ok(!runsBootstrap({ onstart: 'exec node worker.js', endpointId: 1 }));
  });

  it("publishes the worker library's internal port beside the SDK's worker port", () => {
    const ports = (env: string | null) => parseEnv(codeWorkerEnvString(env)).ports.map((p) => p.containerPort);
    assert.deepEqual(ports('-p 3000:3000/tcp -e REPORT_ADDR=http://x'), [3000, 3001]);
    assert.deepEqual(ports('-p 3000:3000/tcp -p 3001:3001/tcp'), [3000, 3001]);
    assert.deepEqual(ports(null), [8000, 8001]);
    assert.deepEqual(parseEnv(codeWorkerEnvString('-e K=V -p 3000:3000/tcp')).env, { K: 'V' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeWorkerPaths } from '../../src/main/runtime.js';

/** What the process sandbox binds back for a code deployment's Python worker (it shows /tmp and the home folder empty). */
describe('code worker paths in the process sandbox', () => {
  it('binds every folder of codeWorkerPythonPath, and a Python whose prefix the sandbox would hide', () => {
    assert.deepEqual(codeWorkerPaths({ codeWorkerPython: 'python3', codeWorkerPythonPath: null }, '/root'), []);
    assert.deepEqual(codeWorkerPaths({ codeWorkerPython: 'python3', codeWorkerPythonPath: '/tmp/sdk:relative:/opt/lib' }, '/root'), ['/tmp/sdk', '/opt/lib']);
    assert.deepEqual(codeWorkerPaths({ codeWorkerPython: '/root/venv/bin/python3', codeWorkerPythonPath: null }, '/root'), ['/root/venv']);
    assert.deepEqual(codeWorkerPaths({ codeWorkerPython: '/tmp/v/bin/python', codeWorkerPythonPath: null }, '/root'), ['/tmp/v']);
    assert.deepEqual(codeWorkerPaths({ codeWorkerPython: '/usr/bin/python3', codeWorkerPythonPath: null }, '/root'), [], 'visible in the sandbox as it is');
  });
});

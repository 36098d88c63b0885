import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readHeartbeat, readHello, readResults } from '../../src/api/agent/messages.js';
import { table } from '../../src/cli/output.js';
import { isGantryError } from '../../src/domain/errors.js';

const machine = {
  hostname: 'gpu-box',
  gpuName: 'RTX 4090',
  numGpus: 2,
  gpuRamMb: 24000,
  gpuDeclared: true,
  computeCap: null,
  cpuName: 'EPYC',
  cpuArch: 'amd64',
  cpuCores: 16,
  cpuRamMb: 64000,
  diskSpaceGb: 500,
  driverVersion: null,
  cudaMaxGood: null,
  publicIp: '127.0.0.1',
  inetUpMbps: 100,
  inetDownMbps: 100,
  osVersion: 'Debian 12',
  portRangeStart: 41000,
  portRangeEnd: 41999,
  runtime: 'process',
};
const hello = (m: Record<string, unknown>) => readHello({ hostKey: 'k', imageNotice: null, machine: { ...machine, ...m } }, '');
const beat = { machineId: 1, session: 's', seq: 1, gpuUtils: null, usage: [], exited: [] };
const refused = (f: () => unknown, field: string) =>
  assert.throws(f, (e: unknown) => isGantryError(e) && e.code === 'INVALID_ARGUMENT' && e.message.startsWith(field), field);

/** What a host says reaches other people's screens: a malicious host is held to text, and to the store's ids. */
describe('agent messages from a host that is not trusted', () => {
  it('a host describes itself in text: control characters and bidirectional overrides are refused', () => {
    assert.equal(hello({ gpuName: 'RTX 4090 – ✓ 😀' }).machine.gpuName, 'RTX 4090 – ✓ 😀');
    refused(() => hello({ gpuName: 'RTX 4090\u001b[2J\u001b[31mFREE H100' }), 'machine.gpuName');
    refused(() => hello({ hostname: 'a\u001b]8;;http://evil.example/\u0007click' }), 'machine.hostname');
    refused(() => hello({ cpuName: 'spoofed\nrow' }), 'machine.cpuName');
    refused(() => hello({ osVersion: 'x\u009b2J' }), 'machine.osVersion');
    refused(() => hello({ publicIp: '1.2.3.4\u202e' }), 'machine.publicIp');
    refused(() => hello({ driverVersion: '550\r' }), 'machine.driverVersion');
  });

  it("what a host passes on from workloads (progress, a call's error) keeps its words, with control characters made spaces", () => {
    const progress = readHeartbeat({ ...beat, progress: [{ instanceId: 3, message: 'pulling\u001b[2K 45%\n' }] }, '').progress;
    assert.deepEqual(progress, [{ instanceId: 3, message: 'pulling [2K 45% ' }]);
    const r = readResults({ machineId: 1, session: 's', seq: 1, results: [{ id: 'c1', ok: false, value: null, error: 'tar:\u0007 failed' }] }, '');
    assert.equal(r.results[0]?.error, 'tar:  failed');
  });

  it("ids are within the store's 32 bits: a listing cannot name another machine's row through the sweep's key", () => {
    assert.equal(readHeartbeat({ ...beat, listing: [{ id: 2 ** 31 - 1, state: 'running' }] }, '').listing?.length, 1);
    refused(() => readHeartbeat({ ...beat, listing: [{ id: 2 ** 31, state: 'running' }] }, ''), 'listing[0].id');
    refused(() => readHeartbeat({ ...beat, exited: [2 ** 40 + 5] }, ''), 'exited[0]');
  });

  it("the CLI's tables show other people's text without anything a terminal acts on", () => {
    const out = table(
      [{ gpu_name: 'RTX\u001b[2J\nfake row', label: 'ok \u202eevil' }],
      [
        ['Model', 'gpu_name'],
        ['Label', 'label'],
      ],
    );
    assert.equal(out, 'Model             Label\nRTX?[2J?fake row  ok ?evil\n');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePortRange } from '../../src/config/port-range.js';
import { localPorts, outgoingOverlap, probeBusyPorts } from '../../src/agent/port-probe.js';
import { createServer } from 'node:net';

describe('--port-range and the agent port probe', () => {
  it('reads FIRST-LAST and refuses anything else', () => {
    assert.deepEqual(parsePortRange('41000-41999'), { portRangeStart: 41000, portRangeEnd: 41999 });
    assert.deepEqual(parsePortRange(' 5000 - 5000 '), { portRangeStart: 5000, portRangeEnd: 5000 });
    for (const bad of ['41000', '2-1', '0-10', '1-70000', 'a-b', '41000-41999-42000']) assert.throws(() => parsePortRange(bad), /--port-range/, bad);
  });

  it('reports a port another program listens on, and not a free one', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen({ port: 0 }, r));
    const held = (s.address() as { port: number }).port;
    try {
      assert.deepEqual(await probeBusyPorts(held, held), [held]);
    } finally {
      await new Promise((r) => s.close(r));
    }
    assert.deepEqual(await probeBusyPorts(held, held), []);
  });

  it('reads local ports from the kernel socket tables, skipping TIME_WAIT', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:A028 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1',
      '   1: 0100007F:A029 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1',
      '   2: 0100007F:A02A 0100007F:1F90 06 00000000:00000000 00:00000000 00000000     0        0 0 1',
    ].join('\n');
    assert.deepEqual(localPorts(table), [41000, 41001]);
  });
});

describe('instance ports the kernel may give to outgoing connections', () => {
  it('is the overlap with ip_local_port_range, less the reserved ports; none where the files cannot be read', async () => {
    assert.deepEqual(await outgoingOverlap(41000, 41999, { range: '32768\t60999\n', reserved: '\n' }), { first: 41000, last: 41999 });
    assert.deepEqual(await outgoingOverlap(30000, 40000, { range: '32768\t60999\n', reserved: '' }), { first: 32768, last: 40000 });
    assert.equal(await outgoingOverlap(20000, 20999, { range: '32768\t60999\n', reserved: '' }), null);
    assert.equal(await outgoingOverlap(41000, 41999, { range: '32768\t60999\n', reserved: '8080,41000-41999\n' }), null);
    assert.deepEqual(await outgoingOverlap(41000, 41999, { range: '32768\t60999', reserved: '41000-41998' }), { first: 41000, last: 41999 });
    assert.equal(await outgoingOverlap(41000, 41999, { range: null, reserved: null }), null);
  });
});

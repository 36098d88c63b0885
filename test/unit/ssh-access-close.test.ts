import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openTestSshAccess } from '../helpers/ssh-access.js';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { reservePortBlock } from '../helpers/ports.js';

/** Whether a connection to the port is refused (nothing listens). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

/**
 * The agent's SSH access closes (the agent stops) while an instance's start still saves its record: the start
 * went on to listen after the close, and that listener, which nothing would close, kept the process alive.
 */
describe("an instance's SSH access closed while its start is under way", () => {
  it('does not listen once closed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-close-'));
    const ports = reservePortBlock();
    try {
      const access = await openTestSshAccess(dir);
      const starting = access.starting({ instanceId: 1, sshPort: ports.start, sshKeys: [], env: {} } as unknown as WorkloadSpec);
      await access.close();
      await starting;
      assert.equal(await refused(ports.start), true, 'nothing listens on the instance port after the close');
    } finally {
      ports.release();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { openTestSshAccess } from '../helpers/ssh-access.js';
import { reservePortBlock } from '../helpers/ports.js';

/** An agent's SSH access looked at each instance it served before its restart, and waited for as long as the engine did. */
describe("an agent's SSH access opened over an engine that does not answer", () => {
  it('opens within the read bound, and listens for an instance it cannot look at (a login looks again)', { timeout: 15_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-open-'));
    const port = reservePortBlock().start;
    try {
      const before = await openTestSshAccess(dir);
      await before.starting({ instanceId: 1, sshPort: port, sshKeys: [], env: {} } as unknown as WorkloadSpec);
      await before.close();
      // The bound's timer does not hold the process open (an agent has its own timers): this test holds it.
      const alive = setInterval(() => undefined, 1_000);
      const after = await openTestSshAccess(dir, { inspect: () => new Promise(() => undefined), readTimeoutMs: 1_000 }).finally(() => clearInterval(alive));
      try {
        await new Promise<void>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve()));
          s.once('error', reject);
        });
      } finally {
        await after.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

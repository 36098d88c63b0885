import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { ExecProcess, WorkloadSpec } from '../../src/runtime/runtime.js';
import { openTestSshAccess } from '../helpers/ssh-access.js';
import { reservePortBlock } from '../helpers/ports.js';

/**
 * `execute` (ls, du, rm in an instance) bounded its command from the spawn on: an engine that never started the
 * exec held the agent's command (and the agent's stop, which waits for its commands) for good.
 */
describe('an execute whose command the runtime does not start', () => {
  it('fails once its timeout passed, and a start that comes later is killed', { timeout: 15_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-exec-bound-'));
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let killed = false;
    const exec = async (): Promise<ExecProcess> => {
      await slow;
      return {
        stdin: new PassThrough(),
        stdout: new PassThrough(),
        stderr: new PassThrough(),
        done: new Promise(() => undefined),
        kill: () => {
          killed = true;
        },
      };
    };
    const access = await openTestSshAccess(dir, { exec });
    try {
      await access.starting({ instanceId: 1, sshPort: reservePortBlock().start, sshKeys: [], env: {} } as unknown as WorkloadSpec);
      await assert.rejects(access.run(1, ['ls'], { timeoutMs: 500, maxBytes: 1024 }), /did not start within 0.5s/);
      release();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(killed, true, 'started late, then killed');
    } finally {
      await access.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

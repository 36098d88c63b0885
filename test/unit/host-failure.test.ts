import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusOf } from '../../src/api/errors.js';
import type { ControlContext } from '../../src/control/context.js';
import type { HostLink } from '../../src/control/hosts/hosts.js';
import { reachHost } from '../../src/control/reach-host.js';
import { GantryError } from '../../src/domain/errors.js';

/**
 * A host that answers but whose runtime fails (its container engine down: the agent reports `connect ENOENT`)
 * is the host's failure, told to the caller with the host's words (503 HOST_RUNTIME_FAILED), never 500 INTERNAL;
 * the engine's own refusals (a GantryError) pass as they are.
 */
describe('failures a host reports', () => {
  const engineDown = (): Promise<never> => Promise.reject(new Error('connect ENOENT /run/podman/podman.sock'));
  const link = { logs: engineDown, logLines: engineDown, storage: engineDown, exec: engineDown } as unknown as HostLink;
  const ctx = { hosts: { get: () => link }, store: { name: 'sqlite' } } as unknown as ControlContext;

  it('are HOST_RUNTIME_FAILED (503) with what the host said', async () => {
    const host = await reachHost(ctx, 3);
    assert.ok(host !== undefined);
    for (const call of [() => host.logs(1, 10), () => host.logLines(1, { tail: 5 }), () => host.storage({ kind: 'listVolumes' })]) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof GantryError);
        assert.equal(e.code, 'HOST_RUNTIME_FAILED');
        assert.equal(statusOf(e.kind), 503);
        assert.match(e.message, /^The host of machine 3 reported: connect ENOENT/);
        return true;
      });
    }
  });

  it("keep Gantry's own refusals as they are", async () => {
    const host = await reachHost(ctx, 3);
    // No copy on this host: the refusal says so (NO_SSH_ACCESS), not a host failure.
    await assert.rejects(host!.copyGrant(1, 1000), (e: unknown) => e instanceof GantryError && e.code === 'NO_SSH_ACCESS');
  });
});

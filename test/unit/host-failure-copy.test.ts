import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import type { HostLink } from '../../src/control/hosts/hosts.js';
import { copyBetween } from '../../src/control/instances/instance-copy.js';
import { systemPrincipal } from '../../src/control/principal.js';
import { LINK_HOST_CALLS } from '../../src/control/reach-host.js';
import { GantryError } from '../../src/domain/errors.js';
import { COPY_CANCELLED } from '../../src/domain/instance/copy-path.js';

/** Review: typing host failures (2ba177d) must not change what callers compare on, nor differ across replicas. */
describe('host failures typed: copies and the link host call', () => {
  it('a cancelled copy is recorded as cancelled, not failed', async () => {
    const msgs: string[] = [];
    const inst = (id: number) => ({ id, accountId: 1, machineId: 3, status: 'running', sshPort: 40000 + id });
    const link = { copy: () => Promise.reject(new Error(COPY_CANCELLED)) } as unknown as HostLink;
    const ctx = {
      hosts: { get: () => link },
      store: {
        name: 'sqlite',
        getInstance: async (id: number) => inst(id),
        setStatusMsg: async (_id: number, m: string) => void msgs.push(m),
      },
      settings: { copyTimeoutMs: 10_000, agentCallTimeoutMs: 1_000 },
      log: { info: () => undefined, warn: () => undefined },
    } as unknown as ControlContext;
    await copyBetween(ctx, systemPrincipal(1, 'u1'), { src: 1, dst: 2 }, { src: '/data', dst: '/in' });
    for (let i = 0; i < 50 && msgs.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(msgs.at(-1), 'copy from C.1:/data to /in: cancelled');
  });

  it('a host failure answered for another replica keeps its type (HOST_RUNTIME_FAILED)', async () => {
    const engineDown = (): Promise<never> => Promise.reject(new Error('connect ENOENT /run/podman/podman.sock'));
    const link = { storage: engineDown, exec: engineDown } as unknown as HostLink;
    await assert.rejects(LINK_HOST_CALLS.link!.run(link, { method: 'storage', args: [{ kind: 'listVolumes' }] }, 3), (e: unknown) => {
      // followHostCalls stores a plain Error as a bare message, which the asking replica reads as HOST_UNAVAILABLE.
      assert.ok(e instanceof GantryError, `a plain ${String(e)} becomes HOST_UNAVAILABLE at the asking replica`);
      assert.equal(e.code, 'HOST_RUNTIME_FAILED');
      return true;
    });
  });
});

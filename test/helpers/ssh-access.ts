import { SshAccess } from '../../src/agent/ssh-access.js';
import { createLogger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/runtime/runtime.js';

/**
 * An agent's SSH access for a test: on loopback, over a fake runtime whose instances run (with `exec` where the
 * test gives one), a host's bash as the shell; the login grace and keepalives are the defaults unless given.
 */
export function openTestSshAccess(
  dataDir: string,
  o: { exec?: Runtime['exec']; inspect?: Runtime['inspect']; loginGraceMs?: number; keepaliveMs?: number; readTimeoutMs?: number } = {},
): Promise<SshAccess> {
  return SshAccess.open({
    runtime: {
      name: 'fake',
      inspect: o.inspect ?? (() => Promise.resolve({ state: 'running' })),
      ...(o.exec !== undefined && { exec: o.exec }),
    } as unknown as Runtime,
    ...(o.readTimeoutMs !== undefined && { readTimeoutMs: o.readTimeoutMs }),
    dataDir,
    bindAddress: '127.0.0.1',
    sftpServer: '/bin/false',
    copyRoot: 'home',
    shell: 'bash',
    loginGraceMs: o.loginGraceMs ?? 120_000,
    keepaliveMs: o.keepaliveMs ?? 15_000,
    log: createLogger('silent'),
  });
}

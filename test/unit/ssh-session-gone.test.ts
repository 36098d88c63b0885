import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { openTestSshAccess } from '../helpers/ssh-access.js';
import ssh2 from 'ssh2';
import { ed25519Pair } from '../../src/agent/ssh-keygen.js';
import type { ExecProcess, WorkloadSpec } from '../../src/runtime/runtime.js';
import { until } from '../helpers/serverless.js';
import { reservePortBlock } from '../helpers/ports.js';

/**
 * A client that leaves while its command is still being spawned (a container engine takes a while to start an
 * exec) must not leave the command running. The agent hears the channel's close only after the spawn (ssh2
 * tells it once the channel's input was read, and nothing reads it before the command has a stdin): this
 * holds that, should either change.
 */
describe('an SSH command whose client left while it was spawned', () => {
  it('is killed once spawned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-gone-'));
    const ports = reservePortBlock();
    const pair = ed25519Pair();
    let spawned!: () => void;
    const spawning = new Promise<void>((r) => (spawned = r));
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let killed = false;
    const exec = async (): Promise<ExecProcess> => {
      spawned();
      await slow;
      let end!: () => void;
      const done = new Promise<{ code: number | null; signal: string | null }>((r) => (end = () => r({ code: null, signal: 'SIGKILL' })));
      return {
        stdin: new PassThrough(),
        stdout: new PassThrough(),
        stderr: new PassThrough(),
        done,
        kill: () => {
          killed = true;
          end();
        },
      };
    };
    const access = await openTestSshAccess(dir, { exec, loginGraceMs: 60_000, keepaliveMs: 60_000 });
    const c = new ssh2.Client();
    try {
      await access.starting({ instanceId: 1, sshPort: ports.start, sshKeys: [pair.public], env: {} } as unknown as WorkloadSpec);
      await new Promise<void>((resolve, reject) => {
        c.once('error', reject);
        c.once('ready', () => resolve());
        c.connect({ host: '127.0.0.1', port: ports.start, username: 'root', privateKey: pair.private, readyTimeout: 20_000 });
      });
      c.exec('sleep 600', () => undefined);
      await spawning;
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.end();
      await closed;
      // The agent's side of the connection sees the close too (its channel closes) before the spawn ends.
      await new Promise((r) => setTimeout(r, 300));
      release();
      await until('the command to be killed', async () => killed, 10_000);
    } finally {
      c.end();
      release();
      await access.close();
      ports.release();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GANTRY_BIN, gantry } from '../helpers/cli.js';

/**
 * Unsandboxed: these servers and agents run in data dirs of their own, and a sandbox's uid base is
 * claimed by one data dir on a machine (the sandbox is tested in process-sandbox.test.ts).
 */
const ENV = { PATH: process.env.PATH, GANTRY_PROCESS_SANDBOX: 'off' };

/** What `gantry up` and `gantry agent` cannot work with is refused at once, naming it, with exit code 1. */
describe('start arguments', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-args-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('an agent whose --server is not a URL stops at once instead of retrying for ever', async () => {
    const r = await gantry(['agent', '--server', 'notaurl', '--token', 'x', '--data-dir', join(dir, 'agent')], ENV, 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--server needs an http:\/\/ or https:\/\/ URL, got 'notaurl'/);
  });

  it('gantry up with a setting that would stall a loop stops at once, naming the setting', async () => {
    const env = { ...ENV, GANTRY_RECONCILE_BATCH: '0' };
    const r = await gantry(['up', '--data-dir', join(dir, 'up'), '--port', '0', '--runtime', 'process'], env, 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Setting reconcileBatch needs at least 1/);
  });

  it("gantry up on an address that is not this machine's stops at once, naming --host", async () => {
    // 192.0.2.1 is TEST-NET-1: reserved for documentation, never a local address (and no name lookup).
    const r = await gantry(['up', '--data-dir', join(dir, 'host'), '--host', '192.0.2.1', '--port', '0', '--runtime', 'process'], ENV, 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--host 192\.0\.2\.1 is not an address of this machine/);
  });

  it('an agent started by npm exec stops when npm is gone, even while the control plane is away', async () => {
    // The stand-in for npm starts the agent and exits, as npm does when killed: the agent's parent changes.
    const npm = spawnSync(
      process.execPath,
      [
        '-e',
        `const c = require('node:child_process').spawn(process.execPath, ${JSON.stringify([GANTRY_BIN, 'agent', '--server', 'http://127.0.0.1:1', '--token', 'x', '--data-dir', join(dir, 'npm-agent'), '--runtime', 'process'])}, { stdio: 'ignore', env: { ...process.env, GANTRY_PROCESS_SANDBOX: 'off', npm_command: 'exec', GANTRY_PARENT_WATCH_MS: '100' } }); console.log(c.pid); setTimeout(() => process.exit(0), 1500);`,
      ],
      { encoding: 'utf8' },
    );
    const pid = Number(npm.stdout.trim());
    assert.ok(pid > 0, npm.stderr);
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return !/^Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '');
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    const left = alive();
    if (left) process.kill(pid, 'SIGKILL');
    assert.equal(left, false, 'the agent outlived npm');
  });

  it('a second agent on the data dir of a running one is refused: it would run every workload twice', async () => {
    const dataDir = join(dir, 'two-agents');
    const args = ['agent', '--server', 'http://127.0.0.1:1', '--token', 'x', '--data-dir', dataDir, '--runtime', 'process'];
    const first = spawn(process.execPath, [GANTRY_BIN, ...args], { stdio: 'ignore', env: ENV });
    try {
      for (let i = 0; i < 200 && !existsSync(join(dataDir, 'server.lock')); i++) await new Promise((r) => setTimeout(r, 50));
      const second = await gantry(args, ENV, 20_000);
      assert.equal(second.code, 1, second.stdout + second.stderr);
      assert.match(second.stderr, new RegExp(`another Gantry process \\(pid ${first.pid}\\) uses data dir`));
    } finally {
      first.kill('SIGKILL');
    }
  });
});

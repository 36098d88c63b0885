import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, gantry, removeUpDir, startUp, upTestEnv } from '../helpers/cli.js';
import { liveHolder } from '../../src/main/data-dir-lock.js';

/**
 * `gantry down --workloads` with two real processes, on SQLite: it stops the instance (its process
 * group is gone), then the server; the next `gantry up` on the same data dir leaves the instance
 * stopped, and it starts again. A stop that is not confirmed in time leaves the server running.
 */
describe('gantry down --workloads', () => {
  let dataDir: string;
  let port: number;
  let server: ChildProcess | null = null;
  let env: NodeJS.ProcessEnv;
  let id = 0;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-down-'));
    port = await freePort();
    env = upTestEnv(dataDir);
  });
  after(async () => {
    server?.kill('SIGKILL');
    await removeUpDir(dataDir);
  });

  const up = async (): Promise<void> => {
    server = (await startUp(['--data-dir', dataDir, '--port', String(port), '--gpus', '1x RTX 4090:24GB', '--runtime', 'process', '--log-level', 'warn'], env))
      .child;
  };
  const cli = async (...a: string[]): Promise<string> => {
    const r = await gantry(a, env);
    assert.equal(r.code, 0, `gantry ${a.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const show = async (): Promise<Record<string, unknown>> => JSON.parse(await cli('show', 'instance', String(id), '--raw')) as Record<string, unknown>;
  const pgid = async (): Promise<number> => Number((await readFile(join(dataDir, 'instances', String(id), 'meta', 'pgid'), 'utf8')).trim());
  /**
   * Whether a process of the group still runs. Zombies do not count: the stopped workload's processes
   * are reaped by whoever adopts them once the server exited, which in a container may take a while.
   */
  const groupAlive = async (g: number): Promise<boolean> => {
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === g && state !== 'Z' && state !== 'X') return true;
    }
    return false;
  };

  it('stops the instance first, then the server', async () => {
    await up();
    // A tenant's label, with what would clear the admin's screen and reverse the line: printed as the tables print it.
    const label = 'x\u001b[2J日本\u202e';
    const created = await cli('create', 'instance', '1001', '--image', 'local/shell', '--onstart-cmd', 'sleep 600', '--label', label, '--wait');
    id = Number(/Created instance (\d+)/.exec(created)?.[1]);
    assert.ok(id > 0, created);
    const group = await pgid();
    assert.ok(await groupAlive(group), 'the workload runs');
    const s = server as ChildProcess;
    const exited = new Promise((r) => s.once('exit', r));
    const out = await cli('down', '--workloads', '--data-dir', dataDir, '--timeout', '30');
    assert.ok(out.includes(`Stopped instance ${id} (x?[2J日本?) of account 1.`), out);
    assert.doesNotMatch(out, /[\u001b\u202e]/);
    assert.match(out, new RegExp(`Stopped Gantry \\(pid ${String(s.pid)}, http://127\\.0\\.0\\.1:${port}\\)\\. Its workloads are stopped`));
    assert.equal(await exited, 0);
    server = null;
    assert.equal(await groupAlive(group), false, 'the workload process group is gone');
  });

  it('the next gantry up leaves it stopped, and it starts again', async () => {
    await up();
    const row = await show();
    assert.deepEqual([row.actual_status, row.intended_status], ['stopped', 'stopped']);
    assert.equal(await groupAlive(await pgid()), false, 'not restarted');
    await cli('start', 'instance', String(id), '--wait');
    assert.equal((await show()).actual_status, 'running');
    assert.ok(await groupAlive(await pgid()));
  });

  it('when a stop is not confirmed in time, says which and leaves the server running', async () => {
    const s = server as ChildProcess;
    // No time to wait at all: the stop is asked, and not yet confirmed when the answer comes.
    const r = await gantry(['down', '--workloads', '--data-dir', dataDir, '--timeout', '0.001'], env);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      new RegExp(`Not stopped: instance ${id} \\(x\\?\\[2J日本\\?\\) of account 1, \\w+: Instance ${id} was not stopped within the bound`),
    );
    assert.doesNotMatch(r.stderr, /[\u001b\u202e]/);
    assert.match(r.stderr, new RegExp(`Gantry \\(pid ${String(s.pid)}\\) keeps running`));
    assert.equal(liveHolder(dataDir)?.pid, s.pid, 'the server still holds the data dir');
    // The stop went on; asked again, down completes.
    const exited = new Promise((res) => s.once('exit', res));
    const out = await cli('down', '--workloads', '--data-dir', dataDir);
    assert.ok(out.includes(`Stopped instance ${id} (x?[2J日本?) of account 1.`), out);
    assert.doesNotMatch(out, /[\u001b\u202e]/);
    assert.equal(await exited, 0);
    server = null;
  });
});

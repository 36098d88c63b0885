import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { callUp, freePort, removeUpDir, startUp, upTestEnv } from '../helpers/cli.js';
import { until } from '../helpers/serverless.js';

/**
 * Ctrl-C stops the control plane, which waits for its work under way: a stop in flight waits out its grace (a
 * minute here, for a workload that ignores SIGTERM), a pull its download. A second Ctrl-C was ignored, and only a
 * kill -9 ended the wait; it now exits at once (130), saying so.
 */
describe('gantry up: a second Ctrl-C while it stops', () => {
  let dataDir = '';
  let server: ChildProcess | null = null;
  after(async () => {
    server?.kill('SIGKILL');
    if (dataDir !== '') await removeUpDir(dataDir);
  });

  it('exits at once, where the first waits for a stop under way', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-second-signal-'));
    const port = await freePort();
    const env = upTestEnv(dataDir, { GANTRY_STOP_GRACE_MS: '60s' });
    const up = await startUp(['--data-dir', dataDir, '--port', String(port), '--gpus', '1x RTX 4090:24GB', '--log-level', 'warn'], env);
    server = up.child;
    let stderr = '';
    server.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => server?.once('exit', (code) => r(code)));
    const key = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
    const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> =>
      (await callUp(port, key, method, path, body)).body as Record<string, unknown>;
    const machine = ((await api('GET', '/api/v0/machines/')).machines as { id: number }[])[0]!.id;
    const created = await api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, {
      image: 'x',
      runtype: 'ssh',
      onstart: 'trap "echo >> \"$HOME/term\"" TERM; echo > "$HOME/ready"; while :; do sleep 1; done',
    });
    const id = created.new_contract as number;
    const status = async (field: string): Promise<unknown> => ((await api('GET', `/api/v0/instances/${id}/`)).instances as Record<string, unknown>)[field];
    await until('running', async () => (await status('actual_status')) === 'running');
    // `running` is recorded once the workload is spawned, maybe before its shell set the trap: a SIGTERM then ends
    // it at once, and no stop is left under way to wait for (seen on a busy machine). It says when the trap is set.
    const disk = join(dataDir, 'instances', String(id), 'disk');
    await until('the trap set', async () => (await readFile(join(disk, 'ready'), 'utf8').catch(() => '')) !== '');
    await api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    // The stop is at the runtime once the workload heard its SIGTERM (which it ignores): it waits up to its grace.
    const heard = join(disk, 'term');
    // The helper's wide bound: a busy machine (the whole suite on two cores) once took longer than 30 s here.
    await until('the stop under way', async () => (await readFile(heard, 'utf8').catch(() => '')) !== '');
    server.kill('SIGINT');
    const first = await Promise.race([exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('waiting'), 2000))]);
    assert.equal(first, 'waiting', 'the first Ctrl-C waits for the stop under way');
    server.kill('SIGINT');
    const second = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still waiting'), 10_000))]);
    assert.equal(second, 130, stderr);
    assert.match(stderr, /SIGINT again: exiting now/);
    server = null;
  });
});

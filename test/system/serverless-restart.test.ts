import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callUp, freePort, removeUpDir, startUp, upTestEnv } from '../helpers/cli.js';
import { oneWorkerDeployment, until } from '../helpers/serverless.js';

/**
 * A control plane that was down longer than `workerReportStaleMs` (a restart, an upgrade) comes back to
 * ready workers whose last reports are old only because nobody was there to hear them: it keeps them and
 * serves through them, instead of taking them for silent and destroying every one at its first pass.
 */
describe('gantry up after a long downtime: ready serverless workers are kept', () => {
  let dataDir: string;
  let port: number;
  let server: ChildProcess | null = null;
  let env: NodeJS.ProcessEnv;
  let key: string;
  // Past the 1 s between a worker's reports, with room for a loaded machine.
  const STALE_MS = 3_000;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-sl-restart-'));
    port = await freePort();
    env = upTestEnv(dataDir, { GANTRY_WORKER_REPORT_STALE_MS: `${STALE_MS}ms`, GANTRY_AUTOSCALE_INTERVAL_MS: '150ms', GANTRY_SCALE_DOWN_DELAY_MS: '1s' });
  });
  after(async () => {
    server?.kill('SIGKILL');
    await removeUpDir(dataDir);
  });

  const up = async (): Promise<void> => {
    server = (await startUp(['--data-dir', dataDir, '--port', String(port), '--gpus', '2x RTX 4090:24GB', '--runtime', 'process', '--log-level', 'warn'], env))
      .child;
    key = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
  };
  const api = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => callUp(port, key, method, path, body);
  const workers = async (endpointId: number): Promise<{ id: number; status: string }[]> => {
    const r = await api('POST', '/get_endpoint_workers/', { id: endpointId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { id: number; status: string }[];
  };

  it('keeps the ready worker through a kill -9 and a downtime past workerReportStaleMs, and serves through it', async () => {
    await up();
    const created = await api('POST', '/api/v0/deployments/', oneWorkerDeployment('kept'));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const endpointId = created.body.deployment.endpoint_id as number;
    const ready = await until('a ready worker', async () => {
      const w = await workers(endpointId);
      return w.length === 1 && w[0]!.status === 'Ready' ? w[0]!.id : null;
    });

    server?.kill('SIGKILL');
    await new Promise((r) => server?.once('exit', r));
    server = null;
    // Down for twice the staleness bound: the worker's last report is old when the control plane comes back.
    await new Promise((r) => setTimeout(r, 2 * STALE_MS));
    await up();

    // Watch the first passes, past the staleness bound again: the same worker all along, never replaced.
    const until2 = Date.now() + STALE_MS + 1_000;
    while (Date.now() < until2) {
      const w = await workers(endpointId);
      assert.deepEqual(
        w.map((x) => x.id),
        [ready],
        'the ready worker is kept, not destroyed and replaced',
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`http://127.0.0.1:${port}/endpoints/kept/hello`, { headers: { authorization: `Bearer ${created.body.deployment.api_key}` } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { worker: number }).worker, ready);
    assert.equal((await workers(endpointId))[0]?.status, 'Ready');
  });
});

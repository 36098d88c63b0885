import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { sqliteDialect } from '../../src/store/dialects/sqlite.js';
import { freePort, gantry, GANTRY_BIN } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { until } from '../helpers/serverless.js';

/**
 * A real `gantry agent` whose machine its owner deleted: started again with its old token it exits at once
 * with the reason (no silent retry loop); a new token joins the same host as a new machine. An agent that was
 * running, waiting for a control plane that was down while the machine was deleted, exits with the reason too.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite') ?? TEST_STORES[0];
const ENV = { PATH: process.env.PATH, GANTRY_GPUS: '1x T4:16GB', GANTRY_RUNTIME: 'process', GANTRY_LOG_LEVEL: 'warn', GANTRY_PROCESS_SANDBOX: 'off' };

describe('gantry agent of a deleted machine', { skip: ts?.skip ?? 'no store', timeout: 120_000 }, () => {
  let g: TestGantry;
  let dir: string;
  let server: string;
  let port: number;
  let child: ChildProcess | null = null;
  let out = '';

  /** Start `gantry agent`; resolves with its machine id once it is up. */
  const startAgent = async (token: string): Promise<number> => {
    const c = spawn(process.execPath, [GANTRY_BIN, 'agent', '--server', server, '--token', token, '--data-dir', dir], {
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return until('the agent to join', () =>
      Promise.resolve(/Agent is up: machine (\d+)/.exec(out)?.[1]).then((m) => (m === undefined ? undefined : Number(m))),
    );
  };
  const stopAgent = async (): Promise<void> => {
    const c = child;
    if (c === null || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };

  const start = (dataDir?: string): Promise<TestGantry> =>
    startTestGantry(ts!, {
      localHost: false,
      ...(dataDir !== undefined && { dataDir }),
      settings: { port, machineOfflineMs: 1500, agentPollWaitMs: 300, heartbeatIntervalMs: 200, machineCacheMs: 0 },
    });

  before(async () => {
    port = await freePort();
    server = `http://127.0.0.1:${port}`;
    g = await start();
    dir = await mkdtemp(join(tmpdir(), 'gantry-agent-deleted-'));
  });
  after(async () => {
    child?.kill('SIGKILL');
    await g.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('exits with the reason when its token was revoked with its machine; a new token joins as a new machine', async () => {
    const token = (await g.api('POST', '/api/v0/host_tokens/', { name: 'doomed' })).body.token as string;
    const machine = await startAgent(token);
    await stopAgent();
    const deleted = await until('the machine to show offline and be deleted', async () => {
      const r = await g.api('POST', `/api/v0/machines/${machine}/force_delete/`);
      return r.body.code === 'MACHINE_ONLINE' ? undefined : r;
    });
    assert.equal(deleted.status, 200, deleted.text);

    const refused = await gantry(['agent', '--server', server, '--token', token, '--data-dir', dir], ENV, 30_000);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`Machine ${machine} was deleted by its owner.*new host token`), refused.stderr);

    const fresh = (await g.api('POST', '/api/v0/host_tokens/', { name: 'again' })).body.token as string;
    const again = await startAgent(fresh);
    assert.notEqual(again, machine);
    await stopAgent();
  });

  it('a running agent whose machine was deleted while the control plane was down exits with the reason', async () => {
    const token = (await g.api('POST', '/api/v0/host_tokens/', { name: 'waiting' })).body.token as string;
    const machine = await startAgent(token);
    const exited = new Promise<number | null>((r) => child?.once('exit', r));
    // The control plane stops; the agent keeps asking. Meanwhile the owner's delete lands (here: on the store).
    await g.close();
    const store = new KyselyStore(sqliteDialect(join(g.dataDir, 'gantry.db')));
    assert.equal((await store.deleteMachine(machine, Date.now(), 'gone')).deleted, true);
    await store.close();
    const dataDir = g.dataDir;
    g = await start(dataDir);
    assert.equal(await exited, 1);
    assert.match(out, new RegExp(`refused this host: Machine ${machine} was deleted by its owner`), out);
  });
});

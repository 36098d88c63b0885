import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gantry, GANTRY_BIN } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The console's own routes for the Machines and Account pages: a host token with the exact
 * `gantry agent` command (its flags are the CLI's, and running it joins a real agent), and the
 * account's env var names without their values.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite') ?? TEST_STORES[0];
const ENV = { PATH: process.env.PATH, GANTRY_GPUS: '1x T4:16GB', GANTRY_RUNTIME: 'process', GANTRY_LOG_LEVEL: 'warn', GANTRY_PROCESS_SANDBOX: 'off' };

describe('console API: host tokens and secret names', { skip: ts?.skip ?? 'no store', timeout: 120_000 }, () => {
  let g: TestGantry;
  let dir: string;
  let agent: ChildProcess | null = null;

  before(async () => {
    g = await startTestGantry(ts!, { localHost: false, settings: { machineCacheMs: 0, agentPollWaitMs: 300 } });
    dir = await mkdtemp(join(tmpdir(), 'gantry-console-agent-'));
  });
  after(async () => {
    if (agent !== null && agent.exitCode === null) {
      const exited = new Promise((r) => agent?.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await g.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('POST /console/api/host_tokens: the command names this server and the token, with flags `gantry agent` has', async () => {
    const r = await g.api('POST', '/console/api/host_tokens', { name: 'rack 2' });
    assert.equal(r.status, 200, r.text);
    const { token, command, argv, server } = r.body as { token: string; command: string; argv: string[]; server: string };
    assert.match(token, /^ght_/);
    assert.equal(server, g.url);
    assert.deepEqual(argv, ['npx', 'gantry', 'agent', '--server', g.url, '--token', token]);
    assert.equal(command, argv.join(' '));
    const help = await gantry(['agent', '--help'], ENV);
    for (const flag of argv.filter((a) => a.startsWith('--'))) assert.match(help.stdout, new RegExp(`${flag} <`), `${flag} in gantry agent --help`);
  });

  it('the command, run (as `node bin/gantry.js`), joins a new machine to the account', async () => {
    const { argv } = (await g.api('POST', '/console/api/host_tokens', {})).body as { argv: string[] };
    let out = '';
    agent = spawn(process.execPath, [GANTRY_BIN, ...argv.slice(2), '--data-dir', dir], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const id = await until('the agent to join', () => Promise.resolve(/Agent is up: machine (\d+)/.exec(out)?.[1]));
    const machines = (await g.api('GET', '/api/v0/machines/')).body.machines as { id: number; online: boolean }[];
    assert.ok(
      machines.some((m) => m.id === Number(id)),
      out,
    );
  });

  it('bad input is a 400 in the console shape; a key without machine_write is refused', async () => {
    const bad = await g.api('POST', '/console/api/host_tokens', { name: 7 });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.error.code, 'INVALID_ARGUMENT');
    const list = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'ro', permissions: { api: { machine_read: {} } } });
    assert.equal(list.status, 200, list.text);
    const ro = list.body.key as string;
    const refused = await g.api('POST', '/console/api/host_tokens', {}, { key: ro });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.error.code, 'PERMISSION_MISSING');
  });

  it('GET /console/api/secrets lists names only, never a value', async () => {
    const put = await g.api('POST', '/api/v0/secrets/', { key: 'hf_token', value: 'very-secret-value-42' });
    assert.equal(put.status, 200, put.text);
    const r = await g.api('GET', '/console/api/secrets');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { secrets: [{ name: 'HF_TOKEN' }] });
    assert.doesNotMatch(r.text, /very-secret-value-42/);
  });
});

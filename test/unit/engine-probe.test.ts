import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { until } from '../helpers/serverless.js';

const listen = (s: Server, path: string): Promise<void> => new Promise((r) => s.listen(path, () => r()));

/** `--runtime auto` asks the engine once at start, within `engineProbeTimeoutMs`: an engine that never answers is absent. */
describe('the container engine probe (runtime auto)', () => {
  let dir: string;
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-probe-'));
  });
  after(async () => {
    for (const s of servers) s.close();
    for (const c of sockets) c.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('an engine that answers its ping is there; one that takes the connection and says nothing is not, at the bound', async () => {
    const answering = createHttpServer((_req, res) => res.end('OK'));
    let closed = 0;
    const silent = createServer((c) => {
      sockets.push(c);
      c.resume(); // reads the request and its end, answers nothing
      c.on('close', () => closed++);
    });
    servers.push(answering, silent);
    await listen(answering, join(dir, 'engine.sock'));
    await listen(silent, join(dir, 'silent.sock'));
    assert.equal(await DockerRuntime.probe(`unix://${join(dir, 'engine.sock')}`, 5_000), true);
    assert.equal(await DockerRuntime.probe(`unix://${join(dir, 'silent.sock')}`, 200), false);
    await until('the probe gave its connection up', async () => closed === 1);
    assert.equal(await DockerRuntime.probe(`unix://${join(dir, 'none.sock')}`, 5_000), false);
  });

  it('the bound is a setting', () => {
    assert.equal(loadConfig({ flags: {}, file: null, env: {} }).engineProbeTimeoutMs, 2_000);
    assert.equal(loadConfig({ flags: {}, file: null, env: { GANTRY_ENGINE_PROBE_TIMEOUT_MS: '500ms' } }).engineProbeTimeoutMs, 500);
  });
});

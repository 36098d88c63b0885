import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engineFor } from '../../src/runtime/docker/docker-runtime.js';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * `gantry up --runtime docker` against a real Podman API service: a container with a published port
 * answers on its host port, logs and usage come from the engine, stop keeps the container and its
 * filesystem, start runs it again, destroy removes it; an image that cannot be pulled is a clear failure.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite');

describe('instances as containers (docker runtime on Podman)', { skip: dockerSkip() || ts?.skip || false, timeout: 120_000 }, () => {
  let g: TestGantry;
  let id: number;
  let hostPort: string;
  // Other test files run containers with the same instance ids at the same time: count only this Gantry's.
  let runtimeId: string;
  const labelled = async (): Promise<number> => {
    const filters = { label: [`gantry.instance-id=${id}`, `gantry.runtime-id=${runtimeId}`] };
    return (await engineFor(testDockerHost()).listContainers({ all: true, filters })).length;
  };

  before(async () => {
    g = await startTestGantry(ts!, { settings: { runtime: 'docker', dockerHost: testDockerHost(), stopGraceMs: 1000 } });
    runtimeId = (await readFile(join(g.dataDir, 'instances', 'runtime-id'), 'utf8')).trim();
  });
  after(async () => {
    await g?.dispose();
  });

  it('runs the image with env, a published port and the disk at /workspace', async () => {
    const onstart = [
      'if [ -f /tmp/marker ]; then echo "second run"; else echo "first run"; fi',
      'touch /tmp/marker',
      'echo "hello from $CONTAINER_ID on $PORT" > /workspace/index.html',
      'exec httpd -f -p 8080 -h /workspace',
    ].join('\n');
    const r = await g.api('PUT', '/api/v0/asks/1001/', { image: testImage(), env: { '-p 8080:8080': '1', GREETING: 'hi' }, onstart, runtype: 'ssh' });
    assert.equal(r.status, 200, r.text);
    id = r.body.new_contract as number;
    const row = await g.waitInstance(id, (x) => x.actual_status === 'running', 60_000);
    assert.equal(row.status_msg, null, 'no process-runtime notice: the image really runs');
    hostPort = ((row.ports as Record<string, { HostPort: string }[]>)['8080/tcp'] ?? [])[0]?.HostPort ?? '';
    const body = await until(async () => {
      const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`).catch(() => null);
      return res?.ok === true ? res.text() : null;
    });
    assert.equal(body, `hello from ${id} on 8080\n`, 'PORT inside the container is the container port');
    assert.equal(await labelled(), 1);
  });

  it('shows logs from the engine and usage from the agent', async () => {
    const logs = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 10 });
    const text = await until(async () => {
      const t = await (await fetch(logs.body.result_url as string)).text();
      return t.includes('first run') ? t : null;
    });
    assert.match(text, /first run/);
    // Engine stats are slow under a busy machine (Podman samples for a while per call): wait generously.
    const row = await g.waitInstance(id, (x) => Number(x.mem_usage) > 0, 60_000);
    assert.ok(Number(row.mem_usage) > 0);
  });

  it('stop keeps the container and its filesystem (one paused by hand too); start runs it again', async () => {
    const docker = engineFor(testDockerHost());
    const own = (await docker.listContainers({ filters: { label: [`gantry.instance-id=${id}`] } })).find((c) => c.Labels['gantry.runtime-id'] === runtimeId);
    await docker.getContainer(own!.Id).pause(); // Podman refuses to stop a paused container: the stop unpauses it
    assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
    const stopped = await g.waitInstance(id, (x) => x.actual_status !== 'running', 30_000);
    assert.deepEqual([stopped.actual_status, stopped.status_msg], ['stopped', null]);
    assert.equal((await docker.getContainer(own!.Id).inspect()).State.Status, 'exited', 'nothing runs on unbilled');
    assert.equal(await labelled(), 1, 'the stopped container is kept');
    // A container made by hand with the instance's labels runs while the store says stopped: a look stops it (never taken for the instance).
    const labels = { 'gantry.runtime-id': runtimeId, 'gantry.instance-id': String(id) };
    const stray = await docker.createContainer({ Image: testImage(), Cmd: ['sleep', '300'], Labels: labels, name: `stray-${runtimeId.slice(0, 8)}-${id}` });
    await stray.start();
    await until(async () => ((await stray.inspect()).State.Running ? null : true), 30_000);
    await stray.remove({ force: true });
    assert.equal((await g.waitInstance(id, (x) => x.actual_status === 'stopped', 30_000)).status_msg, null);
    assert.equal(
      await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
        () => 'answered',
        () => 'refused',
      ),
      'refused',
    );
    assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
    await g.waitInstance(id, (x) => x.actual_status === 'running', 30_000);
    const text = await until(async () => {
      const logs = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 50 });
      const t = await (await fetch(logs.body.result_url as string)).text();
      return t.includes('second run') ? t : null;
    });
    assert.match(text, /second run/, 'files outside the disk survived the stop');
  });

  it('destroy removes the container; one made by hand with its labels afterwards is removed as an orphan', async () => {
    assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    await until(async () => ((await g.api('GET', `/api/v0/instances/${id}/`)).status === 404 ? true : null), 30_000);
    assert.equal(await labelled(), 0);
    const docker = engineFor(testDockerHost());
    const labels = { 'gantry.runtime-id': runtimeId, 'gantry.instance-id': String(id) };
    const stray = await docker.createContainer({ Image: testImage(), Cmd: ['sleep', '300'], Labels: labels, name: `orphan-${runtimeId.slice(0, 8)}-${id}` });
    await stray.start();
    await until(async () => ((await labelled()) === 0 ? true : null), 60_000);
  });

  it('an image that cannot be pulled fails to start with the reason', async () => {
    const r = await g.api('PUT', '/api/v0/asks/1001/', { image: 'localhost/gantry-test/missing:1', onstart: 'true', runtype: 'ssh' });
    assert.equal(r.status, 200);
    const row = await g.waitInstance(r.body.new_contract as number, (x) => /could not be pulled/.test(String(x.status_msg)), 60_000);
    // The engine's words (Podman: the registry it could not reach), not only that it failed.
    assert.match(String(row.status_msg), /failed to start: image localhost\/gantry-test\/missing:1 could not be pulled: .*localhost/);
  });
});

async function until<T>(f: () => Promise<T | null>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

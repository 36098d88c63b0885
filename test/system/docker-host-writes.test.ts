import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * A container's /workspace and /.gantry are host folders bound in, and Gantry (root on a Docker host) writes
 * into them: the instance's SSH keys and its onstart script. Links the container leaves there, naming host
 * paths, must not send those writes onto the host (decision 008's rule, for containers).
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite');

describe("a container cannot aim Gantry's writes at the host (docker runtime on Podman)", { skip: dockerSkip() || ts?.skip || false, timeout: 180_000 }, () => {
  let g: TestGantry;
  let victim: string;

  before(async () => {
    victim = await mkdtemp(join(tmpdir(), 'gantry-victim-'));
    await writeFile(join(victim, 'precious'), 'host file\n');
    g = await startTestGantry(ts!, { settings: { runtime: 'docker', dockerHost: testDockerHost(), stopGraceMs: 1000 } });
  });
  after(async () => {
    await g?.dispose();
    await rm(victim, { recursive: true, force: true });
  });

  const logsOf = async (id: number): Promise<string> => {
    const logs = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 50 });
    return (await fetch(logs.body.result_url as string)).text();
  };
  const until = async (f: () => Promise<boolean>, ms = 60_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await f())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it('links left in /workspace/.ssh and /.gantry/onstart.sh are replaced, never followed', async () => {
    const onstart = [
      `rm -rf /workspace/.ssh && ln -s ${victim} /workspace/.ssh`,
      `rm -f /.gantry/onstart.sh && ln -s ${victim}/precious /.gantry/onstart.sh`,
      'echo planted',
      'exec sleep 100000',
    ].join('\n');
    const r = await g.api('PUT', '/api/v0/asks/1001/', { image: testImage(), onstart, runtype: 'ssh' });
    assert.equal(r.status, 200, r.text);
    const id = r.body.new_contract as number;
    await g.waitInstance(id, (x) => x.actual_status === 'running', 60_000);
    await until(async () => (await logsOf(id)).includes('planted'));

    // An account key added now is written to the running instance's disk.
    const key = await g.api('POST', '/api/v0/ssh/', { ssh_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostWriteTestKeyHostWriteTestKeyHostWrite00 probe' });
    assert.equal(key.status, 200, key.text);
    // Stop and start: the start writes onstart.sh and the keys again.
    assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
    await g.waitInstance(id, (x) => x.actual_status === 'stopped', 60_000);
    assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
    await g.waitInstance(id, (x) => x.actual_status === 'running', 60_000);
    await until(async () => ((await logsOf(id)).match(/planted/g) ?? []).length >= 2);

    assert.equal(await readFile(join(victim, 'precious'), 'utf8'), 'host file\n', 'the host file is untouched');
    assert.deepEqual((await readdir(victim)).sort(), ['precious'], 'nothing was written into the host folder');
    assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
  });
});

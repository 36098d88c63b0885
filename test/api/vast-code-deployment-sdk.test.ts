import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { fixture, PYTHON, WORKER_PYTHONPATH as PYTHONPATH, sdkMissing } from '../helpers/vast-sdk.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * Vast's deployments SDK, unchanged (the snapshot in ../shared/reference/vast-cli), run by Debian's
 * python3 against Gantry: a module with one `@app.remote` function, `image`, `configure_autoscaling`
 * and `ensure_ready` create and upload it; run again unchanged it exists (no upload); with its code
 * changed it is a soft update (a new version, the workers' rolling update asked for); with only
 * max_workers changed an autoscale update. No host here, so no worker starts:
 * test/system/vast-code-workers.test.ts runs the code.
 */
const FIXTURE = fixture('code_deployment.py');

const skip = sdkMissing();
if (skip !== false) console.log(`# skipping the deployments SDK test: ${skip}`);

for (const ts of ONE_STORE) {
  describe(`Vast's deployments SDK against Gantry (${ts.name})`, { skip: skip !== false ? skip : ts.skip }, () => {
    let g: TestGantry;
    let dir: string;
    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      dir = await mkdtemp(join(tmpdir(), 'gantry-sdk-deploy-'));
    });
    after(async () => {
      await g.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    /** Run the module (as `square.py`, with `code` as its function's body) and read what ensure_ready did. */
    const deploy = async (code: string, maxWorkers: number): Promise<{ out: Record<string, unknown>; log: string }> => {
      const text = (await readFile(FIXTURE, 'utf8')).replace('return x * x  # CODE', code);
      const file = join(dir, 'square.py');
      await writeFile(file, text);
      const env = {
        ...process.env,
        PYTHONPATH,
        PYTHONDONTWRITEBYTECODE: '1',
        GANTRY_URL: g.url,
        GANTRY_KEY: g.adminKey as string,
        MAX_WORKERS: String(maxWorkers),
      };
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
        execFile(PYTHON, [file], { env, cwd: dir, timeout: 60_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve({ stdout, stderr }),
        ),
      );
      const last = stdout.trim().split('\n').pop() ?? '';
      return { out: JSON.parse(last) as Record<string, unknown>, log: stderr };
    };
    const versions = async (id: unknown) => (await g.api('GET', `/api/v0/deployment/${String(id)}/versions/`)).body.versions as Record<string, unknown>[];

    it('creates, finds unchanged, soft-updates on new code and autoscale-updates on max_workers', async () => {
      const created = await deploy('return x * x', 1);
      assert.equal(created.out.action, 'created', created.log);
      assert.match(created.log, /Upload complete/);
      const v1 = await versions(created.out.id);
      assert.deepEqual(
        v1.map((v) => [v.uploaded, v.status]),
        [[true, 'current']],
      );
      // The stored bytes are the tarball the SDK made: a gzip stream.
      const dl = await g.api('GET', `/api/v0/deployment/${String(created.out.id)}/download_url/`);
      const blob = Buffer.from(await (await fetch(dl.body.download_url as string)).arrayBuffer());
      assert.equal(blob.length, v1[0]?.file_size);
      assert.deepEqual([...blob.subarray(0, 2)], [0x1f, 0x8b]);

      const same = await deploy('return x * x', 1);
      assert.equal(same.out.action, 'exists', same.log);
      assert.equal(same.out.id, created.out.id);
      assert.match(same.log, /already up to date, skipping upload/);

      const soft = await deploy('return x ** 2', 1);
      assert.equal(soft.out.action, 'soft_update', soft.log);
      assert.equal(soft.out.id, created.out.id);
      assert.match(soft.log, /Upload complete/);
      assert.match(soft.log, /Triggering rolling update for workergroup \d+/);
      const v2 = await versions(created.out.id);
      assert.equal(v2.length, 2);
      assert.deepEqual(
        v2.map((v) => [v.uploaded, v.status]),
        [
          [true, 'current'],
          [true, 'previous'],
        ],
      );

      const auto = await deploy('return x ** 2', 3);
      assert.equal(auto.out.action, 'autoscale_update', auto.log);
      assert.match(auto.log, /skipping upload/);
      const ep = await g.api('GET', `/api/v0/endptjobs/${String(auto.out.endpoint_id)}/`);
      assert.equal(ep.body.result.max_workers, 3);
      assert.equal((await versions(created.out.id)).length, 2);

      // The SDK's DeploymentData reads the deployment as Gantry shows it (fetch_deployment).
      const shown = (await g.api('GET', `/api/v0/deployment/${String(created.out.id)}/`)).body.deployment as Record<string, unknown>;
      const read = execFileSync(
        PYTHON,
        [
          '-c',
          'import json, sys\nfrom vastai.data.deployment import DeploymentData\nd = DeploymentData.from_dict(json.load(sys.stdin))\nprint(json.dumps([d.file_hash, d.current_version_id, d.image, d.tag]))',
        ],
        { input: JSON.stringify(shown), env: { ...process.env, PYTHONPATH, PYTHONDONTWRITEBYTECODE: '1' } },
      ).toString();
      assert.deepEqual(JSON.parse(read), [v2[0]?.file_hash, v2[0]?.id, 'python:3.12-slim', 'default']);
    });
  });
}

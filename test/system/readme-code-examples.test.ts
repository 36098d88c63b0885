import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';
import { PYTHON, sdkMissing, WORKER_PYTHONPATH } from '../helpers/vast-sdk.js';

/**
 * The README's "Code deployments" examples run as written: the Python one with Vast's SDK, unchanged
 * (its server URL pointed at the test's server, and Debian 12's stand-ins for Python 3.12 on its
 * path), and the Node one with `gantry/sdk` (its `math.mjs` as its comment says). Each deploys, a
 * worker starts, and the remote call prints what the README says it prints.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const skip = sdkMissing();

/** The first fenced block of `lang` after `marker` in the README's "Code deployments" section. */
async function example(lang: string, marker: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Code deployments'));
  const from = section.indexOf(marker);
  assert.ok(from >= 0, `README: no ${marker}`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section.slice(from));
  assert.ok(m, `README: no ${lang} block after ${marker}`);
  return m[1] as string;
}

const run = (cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }): Promise<string> =>
  new Promise((ok, fail) =>
    execFile(cmd, args, { ...o, timeout: 120_000 }, (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stdout}\n${stderr}`)) : ok(stdout))),
  );

for (const ts of ONE_STORE) {
  describe(`the README's code deployment examples run as written (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let dir: string;
    before(async () => {
      g = await startTestGantry(ts, {
        gpus: '2x RTX 4090:24GB',
        settings: { ...SERVERLESS_FAST, workerReportStaleMs: 30_000, codeWorkerPython: PYTHON, codeWorkerPythonPath: WORKER_PYTHONPATH },
        workloadEnv: { PYTHONDONTWRITEBYTECODE: '1' },
      });
      dir = await mkdtemp(join(tmpdir(), 'gantry-readme-code-'));
    });
    after(async () => {
      await g.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('Python: Vast SDK deploys the module and square(7) prints 49', { skip: skip !== false ? skip : false }, async () => {
      const code = await example('python', "Vast's deployments SDK");
      assert.ok(code.includes('http://127.0.0.1:7070'), 'the example names the default server');
      const file = join(dir, 'py', 'square_app.py');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, code.replaceAll('http://127.0.0.1:7070', g.url));
      const env = { ...process.env, PYTHONPATH: WORKER_PYTHONPATH, PYTHONDONTWRITEBYTECODE: '1', GANTRY_KEY: g.adminKey as string };
      const out = await run(PYTHON, [file], { cwd: dirname(file), env });
      assert.equal(out.trim().split('\n').pop(), '49');
    });

    it('Node: gantry/sdk deploys app.mjs with math.mjs, and lookup(7) answers from a worker with its context', async () => {
      const code = await example('js', '**TypeScript.**');
      const math = /math\.mjs: (export .*)$/m.exec(code);
      assert.ok(math, 'the example says what math.mjs holds');
      const app = join(dir, 'ts');
      await mkdir(join(app, 'node_modules'), { recursive: true });
      await symlink(ROOT, join(app, 'node_modules', 'gantry'), 'dir');
      await writeFile(join(app, 'app.mjs'), code);
      await writeFile(join(app, 'math.mjs'), `${math[1] as string}\n`);
      const out = await run(process.execPath, ['app.mjs'], { cwd: app, env: { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey as string } });
      assert.match(out, /action: 'created'/);
      assert.match(out, /square: 49, name: 'seven', worker: '\d+'/);
    });
  });
}

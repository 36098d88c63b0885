import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker } from '../worker.js';
import { SERVE_FLAG, workerEnv } from './code-env.js';
import type { CodeConfig } from './package.js';
import { toWireError } from './remote-error.js';
import type { RegisteredApp } from './deployment.js';
import { readTarGz } from './tar.js';

/**
 * The bootstrap of a TypeScript/Node code deployment's worker (decision 020), what Vast's
 * `serve_deployment` is to a Python one: fetch the code through `download_url` with
 * CONTAINER_API_KEY, extract it, apply its config (env, `npm install` when it lists packages, run
 * commands), import the entry in serve mode, enter its contexts, run each benchmark once, then serve
 * `/remote/<fn>` through Gantry's worker helper (signatures, load reports). It prints the phase lines
 * Vast's bootstrap prints, so the worker listing shows the same phases (bootstrap-phase.ts).
 */
const log = (line: string): void => void process.stdout.write(`${line}\n`);

/** The package root of this SDK (dist/src/sdk/code → the root), linked as `node_modules/gantry` so the entry's `gantry/sdk` resolves. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

function need(env: NodeJS.ProcessEnv, k: string): string {
  const v = env[k];
  if (v === undefined || v === '') throw new Error(`${k} is not set: this runs as a code deployment's worker`);
  return v;
}

async function download(env: NodeJS.ProcessEnv): Promise<Buffer> {
  const api = need(env, 'VAST_API_URL').replace(/\/+$/, '');
  const id = need(env, 'DEPLOYMENT_ID');
  log(`Fetching download URL for deployment ${id}`);
  const r = await fetch(`${api}/api/v0/deployment/${id}/download_url/`, { headers: { authorization: `Bearer ${need(env, 'CONTAINER_API_KEY')}` } });
  if (!r.ok) throw new Error(`download_url: HTTP ${r.status}: ${await r.text()}`);
  const { download_url: url } = (await r.json()) as { download_url: string };
  log('Downloading deployment tarball');
  const t = await fetch(url);
  if (!t.ok) throw new Error(`download: HTTP ${t.status}: ${await t.text()}`);
  return Buffer.from(await t.arrayBuffer());
}

/** Wait for the entry to hand over its app (its ensureReady), or for its import to end without one. */
function importApp(entry: string): Promise<RegisteredApp> {
  return new Promise((resolveApp, reject) => {
    (globalThis as unknown as Record<symbol, unknown>)[Symbol.for('gantry.code.serve')] = { ready: resolveApp };
    import(pathToFileURL(entry).href).then(
      () => reject(new Error(`${entry} ended without calling app.ensureReady(): nothing to serve`)),
      (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
    );
  });
}

async function main(): Promise<void> {
  const env = workerEnv();
  const gz = await download(env);
  const dir = join(process.cwd(), 'gantry-code');
  log('Extracting deployment tarball');
  rmSync(dir, { recursive: true, force: true });
  for (const e of readTarGz(gz)) {
    mkdirSync(dirname(join(dir, e.path)), { recursive: true });
    writeFileSync(join(dir, e.path), e.data);
  }
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as CodeConfig;
  if (config.envs.length > 0) log(`Exporting ${config.envs.length} environment variables`);
  for (const [k, v] of config.envs) env[k] = v;
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  if (!existsSync(join(dir, 'node_modules', 'gantry'))) symlinkSync(PACKAGE_ROOT, join(dir, 'node_modules', 'gantry'), 'dir');
  if (config.npm.length > 0) {
    log(`Installing ${config.npm.length} npm packages`);
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', ...config.npm], { cwd: dir, stdio: 'inherit', env });
  }
  if (config.runs.length > 0) log(`Running ${config.runs.length} setup scripts`);
  for (const cmd of config.runs) execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: 'inherit', env });

  log(`Starting deployment worker: ${config.name}`);
  env[SERVE_FLAG] = '1';
  const app = await importApp(join(dir, config.entry));
  for (const cls of app.contexts) {
    const inst = new cls();
    await inst.enter?.();
    app.instances.set(cls, inst);
  }
  const worker = await startWorker({
    benchmark: async () => {
      log('Running benchmark');
      let perf = Number(env.WORKER_PERF ?? 1);
      for (const [, r] of app.remotes) {
        const b = r.options.benchmark;
        if (b === undefined) continue;
        const runs = Math.max(1, b.runs ?? 1);
        const t0 = performance.now();
        for (let i = 0; i < runs; i++) await r.fn(...b.args);
        perf = runs / Math.max((performance.now() - t0) / 1000, 1e-3);
      }
      return perf;
    },
    handle: async (req) => {
      const name = /^\/remote\/([^/?]+)/.exec(req.path)?.[1];
      const r = name === undefined ? undefined : app.remotes.get(decodeURIComponent(name));
      if (r === undefined) return { status: 404, body: { error: { name: 'NotFound', message: `no remote function at ${req.path}`, stack: '' } } };
      let args: unknown;
      try {
        args = (JSON.parse(req.body.toString('utf8') || '{}') as { args?: unknown }).args ?? [];
      } catch {
        return { status: 400, body: { error: { name: 'SyntaxError', message: 'the call body is not JSON', stack: '' } } };
      }
      if (!Array.isArray(args)) return { status: 400, body: { error: { name: 'TypeError', message: "'args' must be an array", stack: '' } } };
      try {
        return { body: { result: (await r.fn(...(args as unknown[]))) ?? null } };
      } catch (err) {
        // 200: the call was served; the error is the function's, not the worker's.
        return { body: { error: toWireError(err) } };
      }
    },
  });
  log('Model marked as loaded');
  log(`serving ${[...app.remotes.keys()].join(', ')} at ${worker.url}/remote/`);
  // The worker helper closes the server and exits on SIGTERM; the contexts' exit runs beside it.
  process.on('SIGTERM', () => {
    for (const cls of app.contexts) void Promise.resolve((app.instances.get(cls) as { exit?(): unknown } | undefined)?.exit?.()).catch(() => undefined);
  });
}

main().catch((err: unknown) => {
  log(`Lifecycle startup failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});

import { execFile, spawn } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pair, startBenchGantry, type LatencyRow } from './util.js';

/**
 * Code deployments (decision 020) on the process runtime, with Gantry's Node SDK (a Node worker
 * starts in well under a second; Vast's Python SDK is tested in test/system, not timed here):
 *  - deploy → first answer: `ensureReady()` of a new deployment (PUT, upload, a worker recruited,
 *    its bootstrap) until the first remote call answers, beside the same function called in-process;
 *  - a soft update under load: CALLERS callers call the remote function in a loop; the latencies of
 *    the calls made while the code changes (from the new version's deploy until answers come from
 *    it) beside the steady state before it, with one worker restarted in place.
 */
const DEPLOYS = 5;
const CALLERS = 8;
const STEADY_MS = 3_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The app, as a user writes it: VERSION is its code (a change of it is a soft update). */
const app = (name: string, version: string): string => `import { Deployment } from 'gantry/sdk';
import { existsSync } from 'node:fs';
const VERSION = '${version}';
const app = new Deployment({ name: '${name}', entry: import.meta.url });
app.image('node:20', 8);
app.configureAutoscaling({ maxWorkers: 1, coldWorkers: 0 });
async function answer(x) {
  return { x, v: VERSION };
}
export const remote = app.remote(answer);
const t0 = performance.now();
const ready = await app.ensureReady();
const out = { ...ready };
if (process.env.MODE === 'first') {
  await remote(1);
  out.firstMs = performance.now() - t0;
  const local = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await answer(i);
    local.push(performance.now() - t);
  }
  out.localMs = local;
}
if (process.env.MODE === 'load') {
  await Promise.all(Array.from({ length: Number(process.env.CALLERS) }, async () => {
    while (!existsSync(process.env.STOP_FILE)) {
      const at = Date.now();
      const t = performance.now();
      const r = await remote(1);
      console.log(JSON.stringify({ at, ms: performance.now() - t, v: r.v }));
    }
  }));
}
console.log(JSON.stringify(out));
`;

export async function codeBench(dir: string): Promise<LatencyRow[]> {
  const base = join(dir, 'code');
  await mkdir(join(base, 'node_modules'), { recursive: true });
  await symlink(ROOT, join(base, 'node_modules', 'gantry'), 'dir');
  const g = await startBenchGantry(join(base, 'data'), '8x RTX 4090:24GB', { autoscaleIntervalMs: 50, workerDirectoryMs: 50 });
  const env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey ?? '' };
  const write = async (file: string, name: string, version: string): Promise<string> => {
    const path = join(base, file);
    await writeFile(path, app(name, version));
    return path;
  };
  const run = (file: string, extra: Record<string, string>): Promise<Record<string, any>> =>
    new Promise((ok, fail) =>
      execFile(process.execPath, [file], { env: { ...env, ...extra }, cwd: base, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        err ? fail(new Error(`bench code: ${err.message}\n${stderr}`)) : ok(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, any>),
      ),
    );
  try {
    // Deploy → first answer: a new deployment each time (its own name, a new worker each).
    const first: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < DEPLOYS; i++) {
      const out = await run(await write(`first${i}.mjs`, `bench-first-${i}`, 'v1'), { MODE: 'first' });
      first.push(out.firstMs as number);
      local.push(...(out.localMs as number[]));
    }
    // A soft update under load: callers on v1, then v2 deployed while they call.
    const v1 = await write('load.mjs', 'bench-soft', 'v1');
    await run(v1, {});
    const stop = join(base, 'stop');
    const callers = spawn(process.execPath, [v1], { env: { ...env, MODE: 'load', CALLERS: String(CALLERS), STOP_FILE: stop }, cwd: base });
    let out = '';
    callers.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<void>((ok) => callers.on('exit', () => ok()));
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const updateAt = Date.now();
    await run(await write('load-v2.mjs', 'bench-soft', 'v2'), {});
    // Until the callers' answers come from v2 (each call is a line of theirs), then a second more.
    const deadline = Date.now() + 60_000;
    while (!out.includes('"v":"v2"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1_000));
    await writeFile(stop, '');
    await done;
    const calls = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { at?: number; ms?: number; v?: string })
      .filter((c): c is { at: number; ms: number; v: string } => c.at !== undefined);
    const firstV2 = Math.min(...calls.filter((c) => c.v === 'v2').map((c) => c.at));
    const steady = calls.filter((c) => c.at < updateAt).map((c) => c.ms);
    const during = calls.filter((c) => c.at >= updateAt && c.at <= firstV2).map((c) => c.ms);
    if (!Number.isFinite(firstV2) || during.length === 0) throw new Error(`bench code: no answer from v2 (${calls.length} calls)`);
    return [
      ...pair('code: deploy → first answer', ['function called in-process', local], ['remote function, new deployment (Node SDK, process runtime)', first]),
      ...pair(`code: call latency, ${CALLERS} callers, 1 worker`, ['steady state', steady], ['during a soft update (restart in place)', during]),
    ];
  } finally {
    await g.close(); // the workers, processes of this host, go with it (dataDirGoes)
  }
}

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real entry point users run, resolved from the compiled test file (dist/test/helpers → repo root). */
export const GANTRY_BIN = join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin', 'gantry.js');

/** A JSON call to a spawned `gantry up` on loopback with `key`: its status and parsed body (never throws on HTTP errors). */
export async function callUp(port: number, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
    s.on('error', reject);
  });
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `gantry ...` as a user would, with the given environment. */
export function gantry(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [GANTRY_BIN, ...args], { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start `gantry up` and resolve once it printed its banner. */
export async function startUp(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn(process.execPath, [GANTRY_BIN, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gantry up did not start: ${err}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Try:')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gantry up exited with ${String(code)}: ${err}`));
    });
  });
  return { child, banner };
}

/**
 * The environment of a `gantry up` a system test spawns on `dataDir`: unsandboxed (the test reads the
 * workload's process group and files from the host), quick stops and looks, 50 instance ports of its own
 * below Linux's ephemeral range, away from the test servers' ports. `extra` adds or overrides.
 */
export function upTestEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const instancePorts = 14000 + Math.floor(Math.random() * 100) * 50;
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GANTRY_DATA_DIR: dataDir,
    GANTRY_PROCESS_SANDBOX: 'off',
    GANTRY_UNSAFE_SHARED_PROCESS_RUNTIME: 'true',
    GANTRY_STOP_GRACE_MS: '1s',
    GANTRY_OBSERVE_INTERVAL_MS: '100ms',
    GANTRY_PORT_RANGE_START: String(instancePorts),
    GANTRY_PORT_RANGE_END: String(instancePorts + 49),
    ...extra,
  };
}

/**
 * Kill whatever still runs from a spawned gantry's folder (instances outlive their server), then remove it:
 * commands naming the folder, and every process whose environment says it is one of the folder's instances
 * (a worker's command line need not name it; its environment always does).
 */
export async function removeUpDir(dir: string): Promise<void> {
  const cleanup = spawn('pkill', ['-9', '-f', '--', dir], { stdio: 'ignore' });
  await new Promise((r) => cleanup.once('exit', r));
  const mark = `GANTRY_META=${join(dir, 'instances')}/`;
  for (const pid of (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p))) {
    if (!(await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '')).includes(mark)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
}

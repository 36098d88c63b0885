import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { freePort, GANTRY_BIN, removeUpDir, startUp } from '../helpers/cli.js';

/**
 * The README's walk-throughs run as written, each line in bash against a fresh `gantry up` whose data
 * dir is the README's (`~/.local/share/gantry`, HOME is a temporary folder). Only two things are put in
 * place: `npx gantry` is this checkout's CLI, and the README's port 7070 is a free one (and timings are
 * shortened by settings).
 */
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** The commands of the first ```sh block under a heading (continuation lines joined, comments kept for bash). */
async function shBlock(heading: string): Promise<string[]> {
  const text = await readFile(README, 'utf8');
  const from = text.indexOf(`\n## ${heading}\n`);
  assert.ok(from >= 0, `README has a section "${heading}"`);
  const m = /```sh\n([\s\S]*?)```/.exec(text.slice(from));
  assert.ok(m !== null, `a sh block under "${heading}"`);
  return (m[1] as string)
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

interface Run {
  readonly code: number | null;
  readonly out: string;
}

/** One bash that runs the lines in order (variables carry over) and marks where each line's output ends. */
function runLines(lines: readonly string[], env: NodeJS.ProcessEnv, port: number): Promise<Run[]> {
  const script = lines
    .map((l, i) => `${l.replace(/npx gantry/g, `"${process.execPath}" "${GANTRY_BIN}"`).replace(/7070/g, String(port))}\necho "@@end ${i} $?"`)
    .join('\n');
  return new Promise((resolve) => {
    const c = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    c.stdout.on('data', (d: Buffer) => (text += d.toString()));
    c.stderr.on('data', (d: Buffer) => (text += d.toString()));
    c.on('close', () => {
      const runs: Run[] = [];
      let rest = text;
      for (let i = 0; i < lines.length; i++) {
        const m = new RegExp(`@@end ${i} (\\d+)\\n`).exec(rest);
        if (m === null) break;
        runs.push({ code: Number(m[1]), out: rest.slice(0, m.index) });
        rest = rest.slice(m.index + m[0].length);
      }
      resolve(runs);
    });
  });
}

async function withUp<T>(gpus: string | null, f: (env: NodeJS.ProcessEnv, port: number) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'gantry-readme-'));
  const port = await freePort();
  const instancePorts = 16000 + Math.floor(Math.random() * 100) * 50;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    // Instance ports away from the other tests' (the README leaves the default range).
    GANTRY_PORT_RANGE_START: String(instancePorts),
    GANTRY_PORT_RANGE_END: String(instancePorts + 49),
    // Timing only, so the suite stays short: a stop waits 1 s for the workload, state is read every 100 ms.
    GANTRY_STOP_GRACE_MS: '1s',
    GANTRY_OBSERVE_INTERVAL_MS: '100ms',
  };
  let child: ChildProcess | null = null;
  try {
    child = (await startUp(['--port', String(port), '--log-level', 'warn', ...(gpus !== null ? ['--gpus', gpus] : [])], env)).child;
    return await f(env, port);
  } finally {
    // Instances outlive their server (the README says so): stop them with it, as a user ends the walk-through.
    if (child !== null && child.exitCode === null) {
      const down = spawn(process.execPath, [GANTRY_BIN, 'down', '--workloads', '--timeout', '30'], { env, stdio: 'ignore' });
      await new Promise((r) => down.once('exit', r));
    }
    child?.kill('SIGTERM');
    if (child !== null && child.exitCode === null) await new Promise((r) => child?.once('exit', r));
    // Whatever still runs from the folder (a failed line, a sandboxed workload) goes with it.
    await removeUpDir(home);
  }
}

function assertRan(lines: readonly string[], runs: readonly Run[]): void {
  assert.equal(runs.length, lines.length, `every line ran:\n${runs.map((r) => r.out).join('\n')}`);
  runs.forEach((r, i) => {
    const line = lines[i] as string;
    assert.equal(r.code, 0, `${line}\n${r.out}`);
    // The API answers errors with success:false; the CLI says "Error"; neither may appear, except on a
    // line whose comment says it shows an error on purpose.
    if (!/on purpose/.test(line)) assert.doesNotMatch(r.out, /"success": ?false|^Error|✖/m, `${line}\n${r.out}`);
  });
}

describe('the README walk-throughs run as written', { timeout: 300_000 }, () => {
  for (const gpus of [null, '2x RTX 4090:24GB']) {
    it(`with the CLI, ${gpus === null ? 'on a machine without GPUs' : `with GPUs (${gpus})`}`, async () => {
      const lines = await shBlock('Walk-through with the CLI');
      const runs = await withUp(gpus, (env, port) => runLines(lines, env, port));
      assertRan(lines, runs);
      assert.match(runs[2]?.out ?? '', /running/, 'create --wait reached running');
    });
  }

  it('with curl, on a machine without GPUs', async () => {
    const lines = await shBlock('Walk-through with curl');
    const runs = await withUp(null, (env, port) => runLines(lines, env, port));
    assertRan(
      lines.filter((l) => !l.startsWith('#')),
      runs.filter((_, i) => !(lines[i] as string).startsWith('#')),
    );
  });
});

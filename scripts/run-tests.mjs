#!/usr/bin/env node
// Test driver: one throwaway PostgreSQL for the whole run (each test file makes its own database
// in it), then `node --test` on an explicit list of compiled test files, then the 10 slowest suites.
// With --lint, `npm run lint` runs beside the tests at the lowest CPU priority: the tests leave about a
// fifth of two cores idle while they wait on processes and timers, which is more than the lint needs
// (on a machine busy with other work it may get none: then it runs again, at the normal priority, after them).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { startPodman } from './podman-harness.mjs';
import { startPostgres } from './test-postgres.mjs';

const root = new URL('..', import.meta.url).pathname;
const stores = (process.env.GANTRY_TEST_STORES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const args = process.argv.slice(2);
const only = args.filter((a) => a !== '--lint');
let lint = args.includes('--lint') ? startLint(true) : null;

/**
 * `npm run lint` in a process group of its own (`background`: at the lowest CPU priority), its output kept
 * for the end of the run; `stop` ends the whole group (npm, its shell, eslint or prettier).
 */
function startLint(background) {
  const child = spawn('npm', ['run', '--silent', 'lint'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  if (background && child.pid !== undefined) {
    try {
      // Set before npm starts eslint, so its children inherit it. Without a pid, setPriority would lower this process's own.
      setPriority(child.pid, 19);
      // Linux schedules each session as one group (autogroup), weighed by the group's own nice value: a new
      // session at nice 0 would take half the CPU from the tests, whatever its processes' priority.
      if (existsSync(`/proc/${child.pid}/autogroup`)) writeFileSync(`/proc/${child.pid}/autogroup`, '19');
    } catch {
      // runs at the normal priority
    }
  }
  // Its own group hears no Ctrl-C: a run that ends, however, ends it.
  process.on('exit', stop);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: 1, signal: null, out: String(err) }));
    child.on('close', (c, sig) => {
      process.off('exit', stop);
      resolve({ code: c ?? (sig ? 1 : 0), signal: sig, out });
    });
  });
  return { done, stop, finished: () => child.exitCode !== null || child.signalCode !== null };
}
if (lint !== null) for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return findTests(p);
    return name.endsWith('.test.js') ? [p] : [];
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const files = (only.length > 0 ? only : findTests(join(root, 'dist', 'test'))).sort();
let pg = null;
// SQLite's commits need not survive a power cut in a test run: syncing each to the disk made every write ten times dearer.
const env = { GANTRY_SQLITE_SYNCHRONOUS: 'normal', ...process.env, GANTRY_TEST_STORES: stores.join(',') };
if (stores.includes('postgres')) {
  pg = await startPostgres(await freePort());
  // Through its Unix socket; tests that put a network between Gantry and the database take its TCP address (overTcp).
  env.GANTRY_TEST_PG_URL = pg.socketUrl;
  process.stdout.write(`test PostgreSQL at ${pg.socketUrl.replace(/:[^:@]*@/, ':***@')}\n`);
}
const podman = process.env.GANTRY_TEST_DOCKER === '0' ? { skip: 'GANTRY_TEST_DOCKER=0' } : await startPodman();
if (podman.skip) {
  env.GANTRY_TEST_DOCKER_SKIP = podman.skip;
  process.stdout.write(`container tests skipped: ${podman.skip}\n`);
} else {
  env.GANTRY_TEST_DOCKER_HOST = podman.dockerHost;
  env.GANTRY_TEST_IMAGE = podman.image;
  process.stdout.write(`test Podman service at ${podman.dockerHost}\n`);
}
const tap = join(root, 'dist', 'test-results.tap');
const child = spawn(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${process.env.GANTRY_TEST_CONCURRENCY ?? 3}`,
    // A bound on each test file's process (on Node 20; later versions bound each test and suite without one of
    // its own too): a file that hangs, or whose tests pass but whose process never exits (a connection or timer
    // left open), fails after it, named, instead of holding the run.
    `--test-timeout=${process.env.GANTRY_TEST_TIMEOUT_MS ?? 600_000}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit', env, cwd: root },
);
const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
await pg?.stop();
await podman.stop?.();
try {
  const timings = [];
  const lines = readFileSync(tap, 'utf8').split('\n');
  let current = null;
  for (const line of lines) {
    // Node 20 reports each file's top-level suites (one or two per file), not the files themselves.
    const sub = /^# Subtest: (.+)$/.exec(line);
    if (sub) current = sub[1];
    const d = /^ {2}duration_ms: ([\d.]+)/.exec(line);
    if (d && current) {
      timings.push([current, Number(d[1])]);
      current = null;
    }
  }
  timings.sort((a, b) => b[1] - a[1]);
  process.stdout.write(
    '\nslowest top-level suites:\n' +
      timings
        .slice(0, 10)
        .map(([f, ms]) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${f}`)
        .join('\n') +
      '\n',
  );
} catch {
  // timings are a convenience
}
if (lint !== null) {
  // Still running once the tests are done (other work on the machine left the lowest priority no CPU):
  // it starts again at the normal priority rather than wait for a share it may never get.
  if (!lint.finished()) {
    lint.stop();
    // It may have ended just now on its own: then what it said stands.
    const ended = await lint.done;
    if (ended.signal === 'SIGTERM' || ended.code === 143) {
      process.stdout.write('\nlint still running at the lowest priority: running it again at the normal priority\n');
      lint = startLint(false);
    }
  }
  const r = await lint.done;
  const said = r.out.replace(/^npm warn .*\n/gm, '');
  process.stdout.write(r.code === 0 ? '\nlint (eslint, prettier --check): clean\n' : `\nlint (npm run lint) failed:\n${said}\n`);
  process.exit(code !== 0 ? code : r.code);
}
process.exit(code);

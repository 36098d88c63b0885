import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { until } from '../helpers/serverless.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * SSH access to a container instance (docs/decisions/010-ssh-access.md): the real OpenSSH client against the
 * agent's listener, sessions run through the Engine API's exec in the busybox test image (no bash: its sh is
 * used). Commands with stdin and exit codes, an interactive shell on a terminal, SFTP with the image's
 * sftp-server (none at first: a clear message), `execute`, a copy between two containers, and a session's
 * processes ending with its client.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite');
const SFTP = '/usr/lib/openssh/sftp-server';
// The test image has no sftp-server: the host's (it needs only glibc) is put on the instance's disk with its loader.
const LIBS = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'];
const IMAGE_SFTP = '/workspace/.sftp/run';

function missing(): string | false {
  for (const b of ['/usr/bin/ssh', '/usr/bin/scp', '/usr/bin/ssh-keygen', SFTP, ...LIBS])
    if (!existsSync(b)) return `${b} is not here (openssh-client, openssh-sftp-server, glibc x86-64)`;
  return false;
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}
function sh(cmd: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: 'pipe' });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    c.stdin.end(input);
  });
}

/** Host pids whose command line is exactly this argv. */
async function pidsOf(argv: string[]): Promise<number[]> {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if ((await readFile(`/proc/${name}/cmdline`, 'latin1').catch(() => '')) === want) out.push(Number(name));
  }
  return out;
}

describe(
  'SSH access to a container instance (docker runtime on Podman)',
  { skip: dockerSkip() || ts?.skip || missing() || vastClientsMissing(), timeout: 240_000 },
  () => {
    let g: TestGantry;
    let vast: VastClients;
    let dir: string;
    let key: string;
    let id: number;
    let port: number;
    const opts = (): string[] => [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-i',
      key,
    ];
    const ssh = (cmd: string, input = ''): Promise<Run> => sh('/usr/bin/ssh', [...opts(), '-p', String(port), 'root@127.0.0.1', cmd], input);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-dssh-'));
      key = join(dir, 'id');
      execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      g = await startTestGantry(ts!, { settings: { runtime: 'docker', dockerHost: testDockerHost(), stopGraceMs: 1000, sshSftpServer: IMAGE_SFTP } });
      vast = startVastClients(g.url, g.adminKey as string);
      assert.equal((await g.api('POST', '/api/v0/ssh/', { ssh_key: await readFile(key + '.pub', 'utf8') })).status, 200);
      const r = await g.api('PUT', '/api/v0/asks/1001/', { image: testImage(), onstart: 'echo up', runtype: 'ssh' });
      assert.equal(r.status, 200, r.text);
      id = r.body.new_contract as number;
      const row = await g.waitInstance(id, (x) => x.actual_status === 'running', 90_000);
      port = row.ssh_port as number;
      assert.ok(Number.isInteger(port), JSON.stringify(row));
    });
    after(async () => {
      vast?.close();
      // Containers outlive a Gantry that closes (they are adopted again): this one is removed here.
      if (id !== undefined) {
        await g.api('DELETE', `/api/v0/instances/${id}/`);
        await until('the instance gone', async () => ((await g.api('GET', `/api/v0/instances/${id}/`)).status === 404 ? true : null), 60_000).catch(
          () => undefined,
        );
      }
      await g?.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('runs commands in the container with stdin, its environment and exit codes', async () => {
      const r = await until('an SSH login', async () => {
        const x = await ssh('echo "$CONTAINER_ID"; pwd; cat > up.txt; echo err >&2; exit 7', 'payload\n');
        return x.code === 255 ? null : x; // the listener opens right after the start is reported
      });
      assert.equal(r.code, 7, r.err);
      assert.deepEqual(r.out.trim().split('\n'), [String(id), '/workspace']);
      assert.equal(r.err.trim(), 'err');
      assert.equal(await readFile(join(g.dataDir, 'instances', String(id), 'disk', 'up.txt'), 'utf8'), 'payload\n');
      const down = await ssh('cat up.txt');
      assert.equal(down.out, 'payload\n');
    });

    it('gives an interactive shell on a terminal', async () => {
      const r = await sh('/usr/bin/ssh', [...opts(), '-tt', '-p', String(port), 'root@127.0.0.1'], 'echo "T=$TERM"; tty; exit 3\n');
      assert.equal(r.code, 3, r.err);
      assert.match(r.out, /T=\S+/);
      assert.match(r.out, /\/dev\/pts\/\d+/);
    });

    it('serves SFTP with the image sftp-server, and says clearly when the image has none', async () => {
      await writeFile(join(dir, 'up.bin'), 'sftp payload\n');
      const target = 'root@127.0.0.1:sftp.txt';
      // Podman can lose the output of an exec that ends at once ("attach: connection reset by peer", "broken
      // pipe"); the complaint waits a moment for that, and should Podman lose it still, the copy is tried again.
      let none = await sh('/usr/bin/scp', [...opts(), '-P', String(port), join(dir, 'up.bin'), target]);
      for (let i = 0; i < 4 && /connection reset by peer|broken pipe/.test(none.err); i++)
        none = await sh('/usr/bin/scp', [...opts(), '-P', String(port), join(dir, 'up.bin'), target]);
      assert.notEqual(none.code, 0);
      assert.match(none.err, /this image has no sftp-server/, none.err);
      const sftpDir = join(g.dataDir, 'instances', String(id), 'disk', '.sftp');
      await mkdir(sftpDir, { recursive: true });
      for (const f of [SFTP, ...LIBS]) await copyFile(f, join(sftpDir, f.split('/').at(-1) as string));
      await writeFile(join(sftpDir, 'run'), '#!/bin/sh\nd=/workspace/.sftp\nexec $d/ld-linux-x86-64.so.2 --library-path $d $d/sftp-server "$@"\n', {
        mode: 0o755,
      });
      const up = await sh('/usr/bin/scp', [...opts(), '-P', String(port), join(dir, 'up.bin'), target]);
      assert.equal(up.code, 0, up.err);
      const down = await sh('/usr/bin/scp', [...opts(), '-P', String(port), target, join(dir, 'down.bin')]);
      assert.equal(down.code, 0, down.err);
      assert.equal(await readFile(join(dir, 'down.bin'), 'utf8'), 'sftp payload\n');
    });

    it('execute runs ls inside the container', async () => {
      const ls = await vast.legacy(['execute', String(id), 'ls -a']);
      assert.match(ls.out, /up\.txt/, ls.out);
      assert.match(ls.out, /sftp\.txt/, ls.out);
    });

    it("copy between two container instances: a tar from one container's sh into the other's", async () => {
      const r = await g.api('PUT', '/api/v0/asks/1001/', { image: testImage(), onstart: 'echo up', runtype: 'ssh' });
      assert.equal(r.status, 200, r.text);
      const other = r.body.new_contract as number;
      try {
        await g.waitInstance(other, (x) => x.actual_status === 'running', 90_000);
        const c = await vast.legacy(['copy', `C.${id}:/workspace/up.txt`, `C.${other}:/workspace/inbox`]);
        assert.equal(c.code, 0, c.out);
        const row = await g.waitInstance(other, (x) => /^copy .*: (done|failed|cancelled)/.test(String(x.status_msg)), 60_000);
        assert.match(String(row.status_msg), /: done/);
        assert.equal(await readFile(join(g.dataDir, 'instances', String(other), 'disk', 'inbox', 'up.txt'), 'utf8'), 'payload\n');
      } finally {
        await g.api('DELETE', `/api/v0/instances/${other}/`);
        await until('the second instance gone', async () => ((await g.api('GET', `/api/v0/instances/${other}/`)).status === 404 ? true : null), 60_000).catch(
          () => undefined,
        );
      }
    });

    it('an instance made before SSH access gets an SSH port when it starts again', async () => {
      // What an instance created before SSH access looks like: no `ssh` row among its ports.
      const db = new Database(join(g.dataDir, 'gantry.db'));
      db.prepare("DELETE FROM port_allocations WHERE instance_id = ? AND proto = 'ssh'").run(id);
      db.close();
      assert.equal((await g.api('GET', `/api/v0/instances/${id}/`)).body.instances.ssh_port, null);
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      await g.waitInstance(id, (x) => x.actual_status === 'stopped', 60_000);
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
      const row = await g.waitInstance(id, (x) => x.actual_status === 'running' && x.ssh_port !== null, 60_000);
      port = row.ssh_port as number;
      const r = await until('an SSH login', async () => {
        const x = await ssh('cat up.txt');
        return x.code === 255 ? null : x;
      });
      assert.equal(r.out, 'payload\n', r.err);
    });

    it("a session's processes end when its client goes away", async () => {
      const argv = ['sleep', String(3000 + Math.floor(Math.random() * 1000))];
      const client = spawn('/usr/bin/ssh', [...opts(), '-p', String(port), 'root@127.0.0.1', argv.join(' ')], { stdio: 'ignore' });
      const pids = await until('the session command running', async () => {
        const p = await pidsOf(argv);
        return p.length > 0 ? p : null;
      });
      client.kill('SIGKILL');
      await until('the session command gone', async () => ((await pidsOf(argv)).length === 0 ? true : null));
      assert.ok(pids.length > 0);
    });
  },
);

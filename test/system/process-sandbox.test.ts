import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, lchown, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workloadBaseEnv } from '../../src/config/load.js';
import { machineLockDir } from '../../src/main/uid-base-claim.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { probeBwrap } from '../../src/runtime/process/sandbox.js';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const ROOT = process.getuid?.() === 0;
// A base of this run's own: one is claimed by a data dir while it exists (uid-base-claim.ts), and another
// Gantry on this machine may hold the default one.
const UID_BASE = 1_000_000_000 + (process.pid % 10_000) * 10_000;
const GPUS = '8x RTX 4090:24GB';
// The claim outlives the data dirs of this file (it is kept while a data dir is there, and harmless once they
// are gone): removed at the end, not left in the machine's lock folder by every run.
after(() => rm(join(machineLockDir(), `gantry-sandbox-uids-${UID_BASE}.json`), { force: true }));
const probe = await probeBwrap({ timeoutMs: 20_000, identity: ROOT ? { uid: UID_BASE, gid: UID_BASE } : null });
const noSandbox = probe.ok ? false : `no process sandbox on this machine: ${probe.reason}`;

/** Host pids of the processes labelled with this instance (as the runtime finds them). */
async function labelled(instanceId: number, dataDir: string): Promise<{ pid: number; environ: string }[]> {
  const runtimeId = (await readFile(join(dataDir, 'instances', 'runtime-id'), 'utf8')).trim();
  const out: { pid: number; environ: string }[] = [];
  for (const n of await readdir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const environ = await readFile(`/proc/${n}/environ`, 'latin1').catch(() => '');
    const stat = await readFile(`/proc/${n}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === '') continue;
    const env = environ.split('\0');
    if (env.includes(`GANTRY_RUNTIME_ID=${runtimeId}`) && env.includes(`GANTRY_INSTANCE_ID=${instanceId}`)) out.push({ pid: Number(n), environ });
  }
  return out;
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const running = (r: Record<string, unknown>): boolean => r.actual_status === 'running';

for (const ts of ONE_STORE) {
  describe(`process sandbox (${ts.name}): tenants isolated from each other and from Gantry`, { skip: ts.skip || noSandbox }, () => {
    let g: TestGantry;
    let machine: number;
    const users: Record<string, { id: number; api_key: string }> = {};
    before(async () => {
      g = await startTestGantry(ts, {
        gpus: GPUS,
        settings: { ...SERVERLESS_FAST, processSandbox: 'bwrap', unsafeSharedProcessRuntime: false, sandboxUidBase: UID_BASE },
      });
      for (const name of ['alice', 'bob']) {
        const r = await g.api('POST', '/api/v0/users/', { username: name, credit: 100 });
        assert.equal(r.status, 200, r.text);
        users[name] = r.body as { id: number; api_key: string };
      }
      machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    });
    after(async () => {
      await g?.dispose();
    });
    const create = (who: string | null, body: Record<string, unknown>) =>
      g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', runtype: 'ssh', ...body }, who === null ? {} : { key: users[who]!.api_key });

    it("a tenant's onstart cannot read Gantry's keys, database or another tenant's workload, and its own work runs", async () => {
      const alice = users.alice!;
      assert.equal((await g.api('POST', '/api/v0/secrets/', { key: 'A_SECRET', value: 'alice-secret-zq9' }, { key: alice.api_key })).status, 200);
      const a = await create('alice', { onstart: 'echo alice-data > "$HOME/a.txt"; exec sleep 600' });
      assert.equal(a.status, 200, a.text);
      const aId = a.body.new_contract as number;
      await g.waitInstance(aId, running, 30_000);
      const aProc = await until('alice workload with her secret', async () =>
        (await labelled(aId, g.dataDir)).find((p) => p.environ.includes('alice-secret-zq9')),
      );
      const aDisk = join(g.dataDir, 'instances', String(aId), 'disk');
      await until("alice's file", () => readFile(join(aDisk, 'a.txt'), 'utf8').catch(() => null));
      const secrets = (await readdir(g.dataDir)).filter((n) => n !== 'instances');
      for (const f of ['admin.key', 'server.secret', 'secrets.keys', 'gantry.db'])
        if (ts.name === 'sqlite' || f !== 'gantry.db') assert.ok(secrets.includes(f), f);
      const tries = [
        ...secrets.map((f) => [f, `cat '${join(g.dataDir, f)}'`]),
        // The data dir shows only the folders that lead to the tenant's own instance.
        ['list-data-dir', `ls -A '${g.dataDir}' | grep -qv '^instances$'`],
        ['list-instances', `ls '${join(g.dataDir, 'instances')}' | grep -q '^${aId}$'`],
        ['read-a-disk', `cat '${join(aDisk, 'a.txt')}'`],
        ['write-a-disk', `echo pwned > '${join(aDisk, 'pwned')}'`],
        ['a-environ', `grep -q alice-secret-zq9 /proc/${aProc.pid}/environ`],
        ['any-environ', `cat /proc/[0-9]*/environ | grep -q alice-secret-zq9`],
        ['kill-a', `kill -TERM ${aProc.pid}`],
        ['kill-a-group', `kill -TERM -- -${aProc.pid}`],
        ['root-home', `ls /root | grep -q .`],
      ];
      const script = [
        'r() { if bash -c "$2" >/dev/null 2>&1; then echo "$1 ALLOWED"; else echo "$1 DENIED"; fi; }',
        ...tries.map(([name, cmd]) => `r ${name} ${JSON.stringify(cmd)} >> "$HOME/results"`),
        'echo "uid $(id -u)" >> "$HOME/results"',
        // A setuid-root program run inside would keep the tenant's uid: nothing is gained by exec.
        'echo "nnp $(awk \'/^NoNewPrivs:/ {print $2}\' /proc/self/status)" >> "$HOME/results"',
        'echo own-work > "$HOME/own.txt"',
        'echo done >> "$HOME/results"',
        'cd "$HOME" && exec python3 -m http.server "$VAST_TCP_PORT_8080"',
      ].join('\n');
      const b = await create('bob', { onstart: script, env: '-p 8080:8080' });
      assert.equal(b.status, 200, b.text);
      const bId = b.body.new_contract as number;
      const row = await g.waitInstance(bId, running, 30_000);
      const results = await until('bob results', async () => {
        const t = await readFile(join(g.dataDir, 'instances', String(bId), 'disk', 'results'), 'utf8').catch(() => '');
        return t.includes('done') ? t : null;
      });
      for (const [name] of tries) assert.match(results, new RegExp(`^${name} DENIED$`, 'm'), `${name}: ${results}`);
      if (ROOT) assert.match(results, new RegExp(`^uid ${UID_BASE + bId}$`, 'm'));
      assert.match(results, /^nnp 1$/m);
      // Bob's own work: his disk, and a server on his port that the host reaches.
      const port = Number((row.ports as Record<string, { HostPort: string }[]>)['8080/tcp']?.[0]?.HostPort);
      const served = await until('bob serves', () =>
        fetch(`http://127.0.0.1:${port}/own.txt`).then(
          (r) => (r.ok ? r.text() : null),
          () => null,
        ),
      );
      assert.equal(served.trim(), 'own-work');
      // Alice is untouched.
      assert.ok(
        (await labelled(aId, g.dataDir)).some((p) => p.pid === aProc.pid),
        "alice's workload still runs",
      );
      assert.equal((await readFile(join(aDisk, 'a.txt'), 'utf8')).trim(), 'alice-data');
      assert.deepEqual(
        (await readdir(aDisk)).filter((n) => n === 'pwned'),
        [],
      );
      // Logs still come back through the API.
      const logs = await g.api('PUT', `/api/v0/instances/request_logs/${bId}/`, { tail: 50 }, { key: users.bob!.api_key });
      assert.equal(logs.status, 200, logs.text);
    });

    it("a serverless SDK worker (Gantry's own code) runs sandboxed and serves through the gateway", async () => {
      const d = await createDeployment(g, 'sandboxed-echo', { min_load: 1, max_workers: 1 });
      const ready = await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'), 90_000);
      const r = await call(g, 'sandboxed-echo', '/hello', { body: 'ping' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.worker, ready.id);
      assert.equal(r.body.echo, 'ping');
    });

    it('stop, start, restart of Gantry (re-adopted) and destroy of a sandboxed instance end every process', async () => {
      const c = await create(null, { onstart: 'sleep 600 & (trap "" TERM; sleep 601) & exec sleep 602' });
      assert.equal(c.status, 200, c.text);
      const id = c.body.new_contract as number;
      await g.waitInstance(id, running, 30_000);
      const before = await until('three sleeps', async () => {
        const l = await labelled(id, g.dataDir);
        return l.length >= 5 ? l : null; // bwrap (outside and its init), the wrapper or its stamper, the sleeps
      });
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      await g.waitInstance(id, (r) => r.actual_status === 'stopped', 30_000);
      await until('no process left after stop', async () => (await labelled(id, g.dataDir)).length === 0);
      // None of them runs any more (a pid may be a zombie until reaped, or taken by an unrelated process).
      const still = new Set((await labelled(id, g.dataDir)).map((p) => p.pid));
      for (const p of before) assert.ok(!still.has(p.pid), `pid ${p.pid} gone`);
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
      await g.waitInstance(id, running, 30_000);
      const pids = (await until('restarted', async () => ((await labelled(id, g.dataDir)).length >= 5 ? labelled(id, g.dataDir) : null)))
        .map((p) => p.pid)
        .sort();
      // Gantry goes away and comes back on the same data: the workload keeps running and is adopted.
      await g.close();
      g = await startTestGantry(ts, {
        gpus: GPUS,
        dataDir: g.dataDir,
        database: g.database,
        settings: { processSandbox: 'bwrap', unsafeSharedProcessRuntime: false, sandboxUidBase: UID_BASE },
      });
      await g.waitInstance(id, running, 30_000);
      assert.deepEqual((await labelled(id, g.dataDir)).map((p) => p.pid).sort(), pids);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
      await until('no process left after destroy', async () => (await labelled(id, g.dataDir)).length === 0);
    });

    it('a session (execute, as ssh and copy) sees a linked volume where the workload sees it, not the folder under it', async () => {
      const listed = await g.api('POST', '/api/v0/volumes/', { machine: machine, size: 5 });
      assert.equal(listed.status, 200, listed.text);
      const offer = (listed.body.volume_offers as { id: number }[])[0]!.id;
      const vol = await g.api('PUT', '/api/v0/volumes/', { id: offer, size: 1, name: 'sessions' });
      assert.equal(vol.status, 200, vol.text);
      const c = await create(null, {
        onstart: 'echo in-volume > data/v.txt; exec sleep 600',
        volume_info: { volume_id: vol.body.volume_id, mount_path: '/workspace/data' },
      });
      assert.equal(c.status, 200, c.text);
      const id = c.body.new_contract as number;
      await g.waitInstance(id, running, 30_000);
      await until('the workload wrote into the volume', () =>
        readFile(join(g.dataDir, 'volumes', String(vol.body.volume_id), 'v.txt'), 'utf8').catch(() => null),
      );
      const ex = await g.api('PUT', `/api/v0/instances/command/${id}/`, { command: 'ls data' }, { headers: { 'user-agent': 'vastai-cli/1' } });
      assert.equal(ex.status, 200, ex.text);
      assert.match(String(ex.body.output), /v\.txt/, ex.text);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    it(
      "a process of the instance's uid that left its group and its labels is still the instance's: a stop ends it first",
      { skip: !ROOT && 'a uid per instance needs Gantry as root' },
      async () => {
        const c = await create(null, { onstart: 'exec sleep 600' });
        assert.equal(c.status, 200, c.text);
        const id = c.body.new_contract as number;
        await g.waitInstance(id, running, 30_000);
        // What such a process looks like from the host (after a restart of Gantry, say): the instance's uid, its
        // own session, an empty environment. A process cannot give up its uid.
        const uid = String(UID_BASE + id);
        // Not detached: setsid(1) forks when it leads a process group, and this pid must stay the sleep's.
        const stray = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'setsid', 'env', '-i', 'sleep', '603'], { stdio: 'ignore' });
        const gone = new Promise<void>((resolve) => stray.once('exit', () => resolve()));
        stray.unref();
        await until('the stray process runs', async () => (await readFile(`/proc/${stray.pid}/status`, 'latin1').catch(() => '')).includes(`Uid:\t${uid}`));
        assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
        await g.waitInstance(id, (r) => r.actual_status === 'stopped', 30_000);
        const ended = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
        if (!ended) stray.kill('SIGKILL');
        assert.ok(ended, '`stopped` was recorded while a process of the instance ran');
        assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
      },
    );
  });

  describe(`process runtime without a sandbox (${ts.name}): only the host's owner`, { skip: ts.skip }, () => {
    const gs: TestGantry[] = [];
    after(async () => {
      for (const g of gs) await g.dispose();
    });
    const tryBob = async (unsafe: boolean) => {
      const g = await startTestGantry(ts, { settings: { processSandbox: 'off', unsafeSharedProcessRuntime: unsafe } });
      gs.push(g);
      const bob = (await g.api('POST', '/api/v0/users/', { username: 'bob', credit: 100 })).body as { api_key: string };
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const ask = (key?: string) =>
        g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'true', runtype: 'args' }, key === undefined ? {} : { key });
      return { g, bob: await ask(bob.api_key), owner: await ask() };
    };

    it("refuses another account's instance on an unsandboxed host, and takes the owner's", async () => {
      const { bob, owner } = await tryBob(false);
      assert.equal(bob.status, 403, bob.text);
      assert.match(bob.text, /HOST_NOT_ISOLATED|without isolation/);
      assert.equal(owner.status, 200, owner.text);
    });

    it('takes every account with --unsafe-shared-process-runtime', async () => {
      const { bob } = await tryBob(true);
      assert.equal(bob.status, 200, bob.text);
    });
  });
}

/** A workload that only waits, for the runtime-level tests below. */
const SPEC: WorkloadSpec = {
  instanceId: 1,
  image: 'x',
  env: {},
  onstart: 'exec sleep 600',
  command: [],
  runtype: 'ssh',
  gpuIndices: [],
  ports: [],
  sshKeys: [],
};

/** A process runtime with a sandbox in a folder of its own, removed after `body`. */
async function withSandboxedRuntime(body: (rt: ProcessRuntime, dir: string) => Promise<void>, baseEnv = workloadBaseEnv()): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-keys-'));
  await chmod(dir, 0o755); // the instance's uid must reach its disk below
  const rt = await ProcessRuntime.open({
    root: join(dir, 'instances'),
    killWaitMs: 1000,
    pollMs: 25,
    baseEnv,
    sandbox: { dataDir: dir, uidBase: ROOT ? UID_BASE : null, readOnly: [], hidden: [], devices: [] },
  });
  try {
    await body(rt, dir);
  } finally {
    for (const id of await rt.list()) await rt.destroy(id, { graceMs: 200 });
    await rm(dir, { recursive: true, force: true });
  }
}

describe('process sandbox: SSH key writes of one instance at once', { skip: noSandbox }, () => {
  it('each completes, and the last one asked for is what authorized_keys holds', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      // A start writes the keys while an account key added meanwhile writes them too (a fixed temporary
      // file written by both made one `mv` fail, and with it the start).
      const sets = [1, 2, 3, 4, 5, 6].map((i) => [`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'A'.repeat(42)}${i} k${i}@race`]);
      const results = await Promise.allSettled(sets.map((keys) => rt.setSshKeys(1, keys)));
      assert.deepEqual(
        results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : [])),
        [],
      );
      assert.equal(await readFile(join(dir, 'instances', '1', 'disk', '.ssh', 'authorized_keys'), 'utf8'), `${sets[5]![0]}\n`);
    });
  });
});

describe('process sandbox: a start writes the SSH keys only when the file is not what the last write left', { skip: noSandbox }, () => {
  const key = (n: number): string => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'B'.repeat(42)}${n} k${n}@start`;
  const spec = (keys: string[]): WorkloadSpec => ({ ...SPEC, instanceId: 7, sshKeys: keys });

  it('keeps an unchanged file, and restores one the tenant changed, replaced or made readable, or a wiped disk', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      const file = join(dir, 'instances', '7', 'disk', '.ssh', 'authorized_keys');
      const restart = async (keys: string[]): Promise<void> => {
        await rt.stop(7, { graceMs: 1000 });
        await rt.start(spec(keys));
      };
      await rt.start(spec([key(1)]));
      const first = await stat(file);
      await restart([key(1)]);
      assert.equal((await stat(file)).ino, first.ino, 'the same keys, the same file: no write');
      assert.equal(await readFile(file, 'utf8'), `${key(1)}\n`);

      await restart([key(1), key(2)]);
      assert.equal(await readFile(file, 'utf8'), `${key(1)}\n${key(2)}\n`, 'other keys are written');

      // What the tenant can do to its own disk (done here as root, the file's owner kept).
      await appendFile(file, 'ssh-ed25519 AAAA tenant@own\n');
      await restart([key(1), key(2)]);
      assert.equal(await readFile(file, 'utf8'), `${key(1)}\n${key(2)}\n`, 'a line the tenant added is gone again');

      await chmod(file, 0o644);
      await restart([key(1), key(2)]);
      assert.equal((await stat(file)).mode & 0o777, 0o600, 'a mode the tenant changed is restored');

      // Replaced by a file of the same text, owner and mode: another file, so written again (a new one in its place).
      const owner = await stat(file);
      await rm(file);
      await writeFile(file, `${key(1)}\n${key(2)}\n`, { mode: 0o600 });
      await chown(file, owner.uid, owner.gid);
      const tenants = (await stat(file)).ino;
      await restart([key(1), key(2)]);
      assert.notEqual((await stat(file)).ino, tenants, "the tenant's file is replaced by the keys' own write");

      await rm(file);
      await restart([key(1), key(2)]);
      assert.equal(await readFile(file, 'utf8'), `${key(1)}\n${key(2)}\n`, 'a file the tenant removed is back');

      // `.ssh` a link to a folder of the tenant's with the same file in it: not the folder written last, so written.
      const ssh = join(dir, 'instances', '7', 'disk', '.ssh');
      const other = join(dir, 'instances', '7', 'disk', 'elsewhere');
      await rename(ssh, other);
      await symlink('elsewhere', ssh);
      await lchown(ssh, owner.uid, owner.gid);
      const before = (await stat(join(other, 'authorized_keys'))).ino;
      await restart([key(1), key(2)]);
      assert.notEqual((await stat(join(other, 'authorized_keys'))).ino, before, 'written again through the link, as the tenant made it');

      // A FIFO left where the write puts its temporary file: opened for writing, it would wait for ever.
      const tmp = join(other, 'authorized_keys.tmp');
      execFileSync('mkfifo', [tmp]);
      await lchown(tmp, owner.uid, owner.gid);
      await restart([key(3)]);
      assert.equal(await readFile(join(other, 'authorized_keys'), 'utf8'), `${key(3)}\n`);

      await rt.stop(7, { graceMs: 1000 });
      await rt.wipeDisk(7);
      await rt.start(spec([key(1), key(2)]));
      assert.equal(await readFile(file, 'utf8'), `${key(1)}\n${key(2)}\n`, 'a wiped disk gets its keys at the next start');
    });
  });

  it('with no keys and no `.ssh` yet, writes nothing; once there were keys, a start without them empties the file', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      const ssh = join(dir, 'instances', '7', 'disk', '.ssh');
      const restart = async (keys: string[]): Promise<void> => {
        await rt.stop(7, { graceMs: 1000 });
        await rt.start(spec(keys));
      };
      await rt.start(spec([]));
      assert.equal(await stat(ssh).catch(() => null), null, 'nothing made for no keys');
      await restart([key(1)]);
      assert.equal(await readFile(join(ssh, 'authorized_keys'), 'utf8'), `${key(1)}\n`);
      await restart([]);
      assert.equal(await readFile(join(ssh, 'authorized_keys'), 'utf8'), '', 'the key detached is gone');
    });
  });

  it('a write while the workload runs (a key attached) leaves no record: a change after it is undone at the next start', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      const file = join(dir, 'instances', '7', 'disk', '.ssh', 'authorized_keys');
      await rt.start(spec([key(1)]));
      await rt.setSshKeys(7, [key(1), key(2)]);
      assert.equal(await stat(join(dir, 'instances', '7', 'meta', 'keys-written')).catch(() => null), null, 'no record of a write while it runs');
      // The workload could change the file between that write and any look at it afterwards.
      await appendFile(file, 'ssh-ed25519 AAAA tenant@persist\n');
      await rt.stop(7, { graceMs: 1000 });
      await rt.start(spec([key(1), key(2)]));
      assert.equal(await readFile(file, 'utf8'), `${key(1)}\n${key(2)}\n`);
    });
  });
});

describe("process sandbox: a workload's environment reaches neither bwrap nor setpriv, which run as root", { skip: noSandbox }, () => {
  it('a PATH or LD_LIBRARY_PATH of the env picks no program run as root, nor its libraries; the workload gets the env as it was', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      // Programs of the tenant's named bwrap and setpriv, in folders of its PATH (one relative: bwrap runs in the
      // disk): found by a lookup in that PATH, they ran as root (setpriv with every capability).
      const bin = join(dir, 'tenant-bin');
      const disk = join(dir, 'instances', '9', 'disk');
      for (const d of [bin, join(disk, 'bin')]) {
        await mkdir(d, { recursive: true });
        for (const name of ['bwrap', 'setpriv']) {
          // The instance's disk: seen the same inside the sandbox (where setpriv runs) and outside (bwrap).
          await writeFile(join(d, name), `#!/bin/sh\nid -u > ${join(disk, `pwned-${name}`)}\nexec /usr/bin/${name} "$@"\n`);
          await chmod(join(d, name), 0o755);
        }
      }
      const odd = 'two words\nand a line, \u00e9t\u00e9 = "quoted" $HOME';
      const env = { PATH: `bin:${bin}:/usr/bin:/bin`, LD_LIBRARY_PATH: `bin:${bin}`, TENANT_MARK: 'tenant-zq7', ODD: odd };
      const spec: WorkloadSpec = {
        ...SPEC,
        instanceId: 9,
        env,
        onstart: 'printf "%s|%s|%s|%s" "$TENANT_MARK" "$PATH" "$LD_LIBRARY_PATH" "$ODD" > "$HOME/seen"; exec sleep 600',
      };
      await rt.start(spec);
      const seen = join(disk, 'seen');
      const text = await until('the workload wrote what it saw', () => readFile(seen, 'utf8').catch(() => null), 20_000);
      assert.equal(text, `tenant-zq7|bin:${bin}:/usr/bin:/bin|bin:${bin}|${odd}`, 'the workload runs with its env, as it was');
      for (const name of ['bwrap', 'setpriv']) {
        const ran = await readFile(join(disk, `pwned-${name}`), 'utf8').catch(() => null);
        assert.equal(ran, null, `the tenant's ${name} ran, as uid ${ran ?? ''}`);
      }
      // The sandbox's own bwrap (outside, as the agent) holds none of the tenant's variables.
      for (const n of await readdir('/proc')) {
        if (!/^\d+$/.test(n)) continue;
        const argv = (await readFile(`/proc/${n}/cmdline`, 'utf8').catch(() => '')).split('\0');
        if (!/(^|\/)bwrap$/.test(argv[0] ?? '') || !argv.some((a) => a.includes(join(dir, 'instances', '9')))) continue;
        const environ = await readFile(`/proc/${n}/environ`, 'utf8').catch(() => '');
        if (environ.includes('TENANT_MARK=')) assert.fail(`bwrap ${n} runs with the tenant's env: ${environ.split('\0').join(' ')}`);
      }
      // A NUL in a value (an SSH client's terminal type can hold one) would start a record of its own: refused.
      await assert.rejects(rt.exec(9, { argv: ['true'], env: { TERM: 'xterm\0LD_PRELOAD=/x.so' }, tty: null }), /cannot be passed to a process/);
    });
  });

  it("an empty or relative folder in the agent's own PATH is no way in either (bwrap looks setpriv up from the disk)", async () => {
    const base = workloadBaseEnv();
    await withSandboxedRuntime(
      async (rt, dir) => {
        const disk = join(dir, 'instances', '4', 'disk');
        for (const d of [disk, join(disk, 'bin')]) {
          await mkdir(d, { recursive: true });
          await writeFile(join(d, 'setpriv'), `#!/bin/sh\nid -u > ${join(disk, 'pwned')}\nexec /usr/bin/setpriv "$@"\n`);
          await chmod(join(d, 'setpriv'), 0o755);
        }
        await rt.start({ ...SPEC, instanceId: 4, onstart: 'echo up > "$HOME/up"; exec sleep 600' });
        await until('the workload ran', () => readFile(join(disk, 'up'), 'utf8').catch(() => null), 20_000);
        assert.equal(await readFile(join(disk, 'pwned'), 'utf8').catch(() => null), null, "the tenant's setpriv never ran");
      },
      { ...base, PATH: `bin::.:${base['PATH'] ?? '/usr/bin:/bin'}` },
    );
  });

  it('names bash holds for itself, or that change how it reads, reach the workload or are skipped, never stop it', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      const disk = join(dir, 'instances', '5', 'disk');
      const env = { kv: 'mine', TMOUT: '1', POSIXLY_CORRECT: '1', UID: '5', SHELLOPTS: 'x', LAST: 'last' };
      await rt.start({ ...SPEC, instanceId: 5, env, onstart: 'printf "%s|%s|%s|%s" "$kv" "$TMOUT" "$POSIXLY_CORRECT" "$LAST" > "$HOME/seen"; exec sleep 600' });
      const text = await until('the workload wrote what it saw', () => readFile(join(disk, 'seen'), 'utf8').catch(() => null), 20_000);
      assert.equal(text, 'mine|1|1|last');
    });
  });

  it('an environment at the bound (512 KiB) arrives whole, in a start and a session, and neither keeps its file open', async () => {
    await withSandboxedRuntime(async (rt, dir) => {
      const disk = join(dir, 'instances', '6', 'disk');
      const env: Record<string, string> = {};
      for (let i = 0; i < 8; i++) env[`BIG${i}`] = `${i}${randomBytes(48 * 1024).toString('base64')}`.slice(0, 64 * 1024 - 16);
      env['LAST'] = 'last';
      const lines = Object.entries(env).map(([k, v]) => `${k}=${v}\n`);
      const sum = createHash('sha256').update(lines.join('')).digest('hex');
      // A digest of what it saw, then every descriptor it holds (the hand-off closes fd 3 before it becomes the workload).
      const report = 'for v in ${!BIG*} LAST; do printf "%s=%s\\n" "$v" "${!v}"; done | sha256sum; for f in /proc/$$/fd/*; do readlink "$f" || :; done';
      await rt.start({ ...SPEC, instanceId: 6, env, onstart: `{ ${report}; } > "$HOME/seen.tmp"; mv "$HOME/seen.tmp" "$HOME/seen"; exec sleep 600` });
      const seen = await until('the workload wrote what it saw', () => readFile(join(disk, 'seen'), 'utf8').catch(() => null), 20_000);
      const s = await rt.exec(6, { argv: ['bash', '-c', report], env, tty: null });
      let session = '';
      s.stdout.on('data', (d: Buffer) => (session += d.toString()));
      s.stdin.end();
      assert.equal((await s.done).code, 0);
      for (const text of [seen, session]) {
        assert.equal(text.split('\n')[0], `${sum}  -`);
        assert.ok(!text.includes('env-handoff'), text);
      }
      assert.deepEqual(await readdir(join(dir, 'instances', 'env-handoff')), [], 'no name holds an environment');
    });
  });
});

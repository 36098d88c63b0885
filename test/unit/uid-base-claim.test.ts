import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startGantry } from '../../src/main/up.js';
import { claimUidBase, machineLockDir } from '../../src/main/uid-base-claim.js';
import { foreignWorkloadUnder } from '../../src/runtime/process/foreign-workloads.js';
import { GANTRY_BIN } from '../helpers/cli.js';

/** A sandbox uid base belongs to one install (data dir) on a machine: two with one base would kill each other's workloads. */
describe('sandbox uid base claim', () => {
  it('is refused to a second install while the first one’s data dir exists, and taken over once it is gone', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gantry-uid-claim-'));
    const locks = join(root, 'lock');
    const [a, b, c] = [join(root, 'a'), join(root, 'b'), join(root, 'c')];
    await Promise.all([mkdir(locks), mkdir(a), mkdir(b), mkdir(c)]);
    const file = join(locks, 'gantry-sandbox-uids-1000.json');
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      // Install a claimed it from another process (its own Gantry).
      await writeFile(file, JSON.stringify({ dataDir: a, pid: other.pid }));
      assert.throws(
        () => claimUidBase(1000, b, locks),
        (e: unknown) => e instanceof Error && e.message.includes(`taken by the Gantry of data dir ${a}`) && e.message.includes('GANTRY_SANDBOX_UID_BASE'),
      );
      claimUidBase(2000, b, locks); // another base is free
      claimUidBase(1000, a, locks); // the holder itself, started again (another pid): kept
      assert.equal((JSON.parse(await readFile(file, 'utf8')) as { dataDir: string }).dataDir, a);
      // Another install's Gantry stopped but its data dir (and so its workloads' uids) remains: still refused,
      // whatever the pid, this process's own included (a pid is reused).
      await writeFile(file, JSON.stringify({ dataDir: c, pid: 999_999_999 }));
      assert.throws(() => claimUidBase(1000, b, locks));
      await writeFile(file, JSON.stringify({ dataDir: c, pid: process.pid }));
      assert.throws(() => claimUidBase(1000, b, locks));
      // Gone for good: the next install takes the base over.
      await rm(c, { recursive: true });
      claimUidBase(1000, b, locks);
      assert.equal((JSON.parse(await readFile(file, 'utf8')) as { dataDir: string }).dataDir, b);
      // A claim that does not parse is no claim; nor is a link (another user may write in the lock folder).
      await writeFile(file, 'not json');
      claimUidBase(1000, b, locks);
      const elsewhere = join(root, 'elsewhere.json');
      await writeFile(elsewhere, JSON.stringify({ dataDir: a, pid: other.pid }));
      await rm(file);
      await symlink(elsewhere, file);
      claimUidBase(1000, b, locks);
      assert.equal((JSON.parse(await readFile(file, 'utf8')) as { dataDir: string }).dataDir, b);
      assert.equal((JSON.parse(await readFile(elsewhere, 'utf8')) as { dataDir: string }).dataDir, a, 'what the link named is untouched');
    } finally {
      other.kill('SIGKILL');
      await rm(root, { recursive: true, force: true });
    }
  });

  // The base is claimed only after the sandbox probe, which comes after the admin account is made: checked first.
  it(
    'a start with a base another install holds writes nothing to its data dir',
    { skip: process.getuid?.() !== 0 ? 'the sandbox runs as uid base + N only as root' : false },
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'gantry-uid-up-'));
      const [holder, fresh] = [join(root, 'holder'), join(root, 'fresh')];
      await mkdir(holder);
      // A base of its own (not one a running Gantry here may use), in the machine's lock folder, where `up` looks.
      const base = 1_300_777_000;
      const file = join(machineLockDir(), `gantry-sandbox-uids-${base}.json`);
      await writeFile(file, JSON.stringify({ dataDir: holder, pid: 999_999_999 }));
      try {
        const config = loadConfig({ env: {}, flags: { dataDir: fresh, port: 0, runtime: 'process', logLevel: 'silent', sandboxUidBase: base } });
        await assert.rejects(
          startGantry({ config, workloadEnv: {}, localHost: true }),
          (e: unknown) => e instanceof Error && e.message.includes(`taken by the Gantry of data dir ${holder}`),
        );
        await assert.rejects(access(fresh), 'no data dir, no admin key: the next start is a first start');
      } finally {
        await rm(file, { force: true });
        await rm(root, { recursive: true, force: true });
      }
    },
  );

  it(
    "an install too old to claim its base is found by its workloads: a start under that base is refused, naming it; a tenant's labels are not an install",
    { skip: process.getuid?.() !== 0 ? 'a workload runs as uid base + N only as root' : false },
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'gantry-uid-foreign-'));
      const [disk, fresh] = [join(root, 'other', 'instances', '7', 'disk'), join(root, 'fresh')];
      await mkdir(disk, { recursive: true });
      const base = 1_300_888_000;
      const uid = base + 7;
      const labels = { ...process.env, GANTRY_RUNTIME_ID: 'the-other-install', GANTRY_INSTANCE_ID: '7' };
      const drop = `setpriv --reuid=${uid} --regid=${uid} --clear-groups`;
      // As the other install's sandbox: a root process with its labels, working in its instance's disk, whose workload runs as base + 7.
      const other = spawn('sh', ['-c', `${drop} sleep 60 & wait`], { cwd: disk, env: labels, stdio: 'ignore' });
      // A tenant's process under that uid that labels itself as another install's: no root process of that install above it.
      const tenant = spawn('sh', ['-c', `exec ${drop} env GANTRY_RUNTIME_ID=forged GANTRY_INSTANCE_ID=9 sleep 60`], { stdio: 'ignore' });
      try {
        const found = await until(() => foreignWorkloadUnder(base, 'mine'));
        assert.deepEqual([found.sandboxPid, found.uid, found.runtimeId, found.instanceId, found.folder], [other.pid, uid, 'the-other-install', 7, disk]);
        assert.equal(await foreignWorkloadUnder(base, 'the-other-install'), null, "an install's own workloads are its own");
        assert.equal(await foreignWorkloadUnder(base + 1, 'mine'), null, 'another base: instance 7 runs as another uid');
        const config = loadConfig({ env: {}, flags: { dataDir: fresh, port: 0, runtime: 'process', logLevel: 'silent', sandboxUidBase: base } });
        await assert.rejects(
          startGantry({ config, workloadEnv: {}, localHost: true }),
          (e: unknown) => e instanceof Error && e.message.includes(`runs as uid ${uid}`) && e.message.includes(`its folder ${disk}`),
        );
        await assert.rejects(access(fresh), 'refused before anything was written');
        // `gantry agent` too, before it writes its data dir.
        const agentDir = join(root, 'agent');
        const agent = spawnSync(
          process.execPath,
          [GANTRY_BIN, 'agent', '--server', 'http://127.0.0.1:1', '--token', 'x', '--data-dir', agentDir, '--runtime', 'process'],
          {
            env: { PATH: process.env.PATH, GANTRY_SANDBOX_UID_BASE: String(base) },
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        assert.notEqual(agent.status, 0, agent.stderr);
        assert.ok(agent.stderr.includes(`runs as uid ${uid}`), agent.stderr);
        await assert.rejects(access(agentDir), 'the agent wrote nothing either');
        // The other install's workloads gone, the tenant's process that labels itself as another install's is left:
        // no root process of that install above it, so no install.
        spawnSync('pkill', ['-KILL', '-P', String(other.pid)]);
        other.kill('SIGKILL');
        await until(async () => ((await foreignWorkloadUnder(base, 'mine')) === null ? true : null));
        assert.equal(tenant.exitCode, null, 'the tenant process still runs');
      } finally {
        other.kill('SIGKILL');
        tenant.kill('SIGKILL');
        spawnSync('pkill', ['-KILL', '-u', String(uid)]);
        await rm(root, { recursive: true, force: true });
      }
    },
  );
});

/** `f`'s first value that is not null, tried for a few seconds (a spawned process takes a moment to drop its uid). */
async function until<T>(f: () => T | null | Promise<T | null>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('not found in time');
}

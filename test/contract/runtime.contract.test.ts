import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workloadBaseEnv } from '../../src/config/load.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import type { Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';
import { DockerRuntime, engineFor } from '../../src/runtime/docker/docker-runtime.js';
import type Docker from 'dockerode';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { until as untilFound } from '../helpers/serverless.js';

/** The runtime port's contract; each runtime adapter runs these bodies. */
interface RuntimeCase {
  readonly name: string;
  readonly skip: string | false;
  open(root: string): Promise<Runtime>;
}

const RUNTIMES: readonly RuntimeCase[] = [
  { name: 'process', skip: false, open: (root) => ProcessRuntime.open({ root, killWaitMs: 2000, pollMs: 25, baseEnv: workloadBaseEnv() }) },
  {
    // The stamper a host without perl's Time::HiRes runs.
    name: 'process (node stamper)',
    skip: false,
    open: (root) => ProcessRuntime.open({ root, killWaitMs: 2000, pollMs: 25, baseEnv: workloadBaseEnv(), logStamper: 'node' }),
  },
  {
    name: 'docker (Podman API)',
    skip: dockerSkip(),
    open: (root) => DockerRuntime.open({ root, dockerHost: testDockerHost(), killWaitMs: 5000, pollMs: 50, nvidiaGpus: false }),
  },
];

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A file's text, or '' when it cannot be read (a process that ended meanwhile). */
const readText = (path: string): string => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
};

const until = async (f: () => Promise<boolean>, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

for (const rc of RUNTIMES) {
  describe(`runtime contract: ${rc.name}`, { skip: rc.skip }, () => {
    let root: string;
    let rt: Runtime;
    let next = 1;
    const spec = (o: Partial<WorkloadSpec>): WorkloadSpec => ({
      instanceId: next++,
      image: testImage(),
      env: { GREETING: 'hi' },
      onstart: null,
      command: [],
      runtype: 'ssh',
      gpuIndices: [],
      ports: [],
      sshKeys: [],
      ...o,
    });

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'gantry-rt-'));
      rt = await rc.open(root);
    });
    after(async () => {
      for (const id of await rt.list()) await rt.destroy(id, { graceMs: 200 });
      await rt.close();
      await rm(root, { recursive: true, force: true });
    });

    it('reports absent before a start', async () => {
      assert.deepEqual(await rt.inspect(999), { state: 'absent' });
    });

    it('runs onstart with the env, keeps an ssh-type instance up, and captures output', async () => {
      const s = spec({ onstart: 'echo "$GREETING from $CONTAINER_ID"; echo oops >&2; exit 4', env: { GREETING: 'hi', CONTAINER_ID: '77' } });
      await rt.start(s);
      // The wrapper records onstart's exit code just after onstart ends: wait for that, not only for the output.
      await until(async () => {
        const o = await rt.inspect(s.instanceId);
        return o.state === 'running' && o.onstartExitCode === 4;
      });
      assert.deepEqual(await rt.inspect(s.instanceId), { state: 'running', onstartExitCode: 4 });
      // The lines pass through the log stamper, which may write them a few ms after the exit code is recorded.
      await until(async () => (await rt.logs(s.instanceId, 10)).split('\n').length >= 3);
      assert.equal(await rt.logs(s.instanceId, 10), 'hi from 77\noops\n');
      assert.equal(await rt.logs(s.instanceId, 1), 'oops\n');
      assert.ok((await rt.list()).includes(s.instanceId));
    });

    it('gives output lines with their stream and time, filtered by a window and cut to the newest tail', async () => {
      const before = Date.now();
      // Batches apart in time: the engine's logs know whole seconds at the API, milliseconds in the stamps.
      const s = spec({ onstart: 'echo one; echo two >&2; echo three; sleep 1.2; echo four >&2; sleep 0.2; echo five', runtype: 'args' });
      await rt.start(s);
      await until(async () => (await rt.inspect(s.instanceId)).state === 'exited');
      const all = await rt.logLines(s.instanceId, { tail: 100 });
      const after = Date.now();
      // Each stream keeps its order; across streams, lines written in the same instant have no order to keep.
      const of = (stream: string): string[] => all.filter((l) => l.stream === stream).map((l) => l.text);
      assert.deepEqual(of('stdout'), ['one', 'three', 'five']);
      assert.deepEqual(of('stderr'), ['two', 'four']);
      assert.deepEqual(
        all.slice(3).map((l) => l.text),
        ['four', 'five'],
      );
      for (const l of all) assert.ok(l.at >= before - 1000 && l.at <= after, `${l.at} within [${before}, ${after}]`);
      const times = all.map((l) => l.at);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        'oldest first',
      );
      const atOf = (text: string): number => all.find((l) => l.text === text)?.at ?? NaN;
      const three = atOf('three');
      const four = atOf('four');
      assert.ok(four - three >= 1000, 'the sleep shows between the batches');
      assert.deepEqual(
        (await rt.logLines(s.instanceId, { tail: 2 })).map((l) => l.text),
        ['four', 'five'],
      );
      assert.deepEqual(
        (await rt.logLines(s.instanceId, { tail: 100, since: four })).map((l) => l.text),
        ['four', 'five'],
      );
      assert.deepEqual((await rt.logLines(s.instanceId, { tail: 100, until: four - 1 })).map((l) => l.text).sort(), ['one', 'three', 'two']);
      assert.equal((await rt.logLines(s.instanceId, { tail: 2, until: four - 1 })).length, 2);
      assert.deepEqual(await rt.logLines(s.instanceId, { tail: 100, since: after + 60_000 }), []);
      assert.deepEqual(await rt.logLines(s.instanceId, { tail: 0 }), []);
      assert.deepEqual(await rt.logLines(998, { tail: 10 }), []);
      assert.equal(await rt.logs(s.instanceId, 2), 'four\nfive\n', 'the plain logs are the same lines without stamps');
    });

    it("stamps the output whatever the host's perl, quietly, and not with the workload's perl options", { skip: rc.name !== 'process' }, async () => {
      // Each case a runtime of its own, with its `perl` first on the PATH. The wrapper no longer checks perl's
      // modules with a run of its own: the stamper itself stops before its open, or does without.
      const fake = await mkdtemp(join(tmpdir(), 'gantry-fake-perl-'));
      const realPerl = execFileSync('sh', ['-c', 'command -v perl'], { encoding: 'utf8' }).trim();
      await mkdir(join(fake, 'stops', 'lib', 'Time'), { recursive: true });
      // As a perl without Time::HiRes (Debian's perl-base) now does: it stops at once, and node takes over.
      await writeFile(join(fake, 'stops', 'perl'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
      // A Time::HiRes that is there but fails to load (found only once the FIFOs are open): whole seconds.
      await mkdir(join(fake, 'broken', 'lib', 'Time'), { recursive: true });
      await writeFile(join(fake, 'broken', 'lib', 'Time', 'HiRes.pm'), 'die "no Time::HiRes here\\n";\n');
      await writeFile(join(fake, 'broken', 'perl'), `#!/bin/sh\nexec ${realPerl} -I${join(fake, 'broken', 'lib')} "$@"\n`, { mode: 0o755 });
      const base = workloadBaseEnv();
      const open = (kind: string): Promise<ProcessRuntime> =>
        ProcessRuntime.open({ root: join(root, kind), killWaitMs: 2000, pollMs: 25, baseEnv: { ...base, PATH: `${join(fake, kind)}:${base['PATH'] ?? ''}` } });
      const stops = await open('stops');
      const broken = await open('broken');
      try {
        for (const [r, dir, name] of [
          [stops, join(root, 'stops'), 'a perl that stops at once'],
          [broken, join(root, 'broken'), 'a Time::HiRes that fails to load'],
          [rt, root, "the host's perl"],
        ] as const) {
          // The workload's own PERL5OPT is not the stamper's.
          const s = spec({ onstart: 'echo one; echo two >&2', runtype: 'args', env: { PERL5OPT: '-MGantry::NoSuchModule' } });
          await r.start(s);
          await until(async () => (await r.inspect(s.instanceId)).state === 'exited');
          const lines = await r.logLines(s.instanceId, { tail: 10 });
          // Unstamped copies (the last resort) would read back as stdout only.
          assert.deepEqual(lines.map((l) => `${l.stream} ${l.text}`).sort(), ['stderr two', 'stdout one'], name);
          assert.equal(await readFile(join(dir, String(s.instanceId), 'meta', 'wrapper.log'), 'utf8'), '', `${name}: nothing in wrapper.log`);
          // Whole seconds only where Time::HiRes cannot load (two stamps on whole seconds by chance: one in a million).
          const whole = lines.every((l) => l.at % 1000 === 0);
          assert.equal(whole, r === broken, `${name}: ${lines.map((l) => l.at).join(' ')}`);
        }
      } finally {
        for (const r of [stops, broken]) for (const id of await r.list()) await r.destroy(id, { graceMs: 200 });
        await rm(fake, { recursive: true, force: true });
      }
    });

    it(
      "runs the stamper with the workload's labels and PATH only (found as the workload's; none of its perl options)",
      { skip: rc.name !== 'process' },
      async () => {
        const s = spec({ onstart: 'exec sleep 600', env: { PERL5OPT: '-w', GREETING: 'hi' } });
        await rt.start(s);
        const stamp = join(root, String(s.instanceId), 'meta', 'stamp.pl');
        const environ = await untilFound('the stamper running', async () => {
          for (const n of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
            if (readText(`/proc/${n}/cmdline`).split('\0').includes(stamp))
              return readText(`/proc/${n}/environ`)
                .split('\0')
                .filter((v) => v !== '');
          }
          return null;
        });
        assert.deepEqual(environ.map((v) => v.split('=')[0]).sort(), ['GANTRY_INSTANCE_ID', 'GANTRY_RUNTIME_ID', 'PATH']);
        assert.ok(environ.includes(`GANTRY_INSTANCE_ID=${s.instanceId}`));
        assert.deepEqual(await rt.stop(s.instanceId, { graceMs: 2000 }), { state: 'absent' });
      },
    );

    it('records the exit code of the main command (runtype args)', async () => {
      const s = spec({ command: ['sh', '-c', 'exit 7'], runtype: 'args' });
      await rt.start(s);
      await until(async () => (await rt.inspect(s.instanceId)).state === 'exited');
      assert.deepEqual(await rt.inspect(s.instanceId), { state: 'exited', exitCode: 7 });
    });

    it('ends when the main command ends, with what it left running in the background (runtype args)', async () => {
      // The background sleep keeps the command's output open; a container ends with its main process all the same.
      const s = spec({ command: ['sh', '-c', 'sleep 9393 & echo left; exit 3'], runtype: 'args' });
      await rt.start(s);
      await until(async () => (await rt.inspect(s.instanceId)).state === 'exited', 15_000);
      assert.deepEqual(await rt.inspect(s.instanceId), { state: 'exited', exitCode: 3 });
      const left = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && readText(`/proc/${pid}/cmdline`) === 'sleep\x009393\x00');
      assert.deepEqual(left, [], 'what it left in the background runs no more');
    });

    it('a container the engine could not start has no exit code (not 0)', { skip: !rc.name.startsWith('docker') }, async () => {
      // A host port another program holds: the engine creates the container and refuses to start it.
      const held = createServer();
      await new Promise<void>((r) => held.listen(0, '0.0.0.0', r));
      try {
        const hostPort = (held.address() as AddressInfo).port;
        const s = spec({ command: ['true'], runtype: 'args', ports: [{ hostPort, containerPort: 8080, proto: 'tcp' }] });
        await assert.rejects(rt.start(s));
        assert.deepEqual(await rt.inspect(s.instanceId), { state: 'exited', exitCode: null });
      } finally {
        held.close();
      }
    });

    /** A running instance, and a second container labelled as it under another name (made by hand, or left by an older Gantry). */
    async function withStray(): Promise<{ id: number; runtimeId: string; stray: Docker.Container; docker: Docker }> {
      const docker = engineFor(testDockerHost());
      const s = spec({ command: ['sleep', '300'], runtype: 'args' });
      await rt.start(s);
      const runtimeId = (await readFile(join(root, 'runtime-id'), 'utf8')).trim();
      const labels = { 'gantry.runtime-id': runtimeId, 'gantry.instance-id': String(s.instanceId) };
      const stray = await docker.createContainer({ Image: testImage(), Cmd: ['sleep', '300'], Labels: labels, name: `stray-${s.instanceId}-${Date.now()}` });
      await stray.start();
      return { id: s.instanceId, runtimeId, stray, docker };
    }

    it('destroy removes every container labelled as the instance, not only the one of its own name', { skip: !rc.name.startsWith('docker') }, async () => {
      const { id, runtimeId, docker } = await withStray();
      assert.deepEqual(await rt.destroy(id, { graceMs: 200 }), { state: 'absent' });
      const left = await docker.listContainers({ all: true, filters: { label: [`gantry.runtime-id=${runtimeId}`] } });
      assert.deepEqual(
        left.filter((c) => c.Labels['gantry.instance-id'] === String(id)).map((c) => c.Names),
        [],
      );
    });

    it('stop stops every running container labelled as the instance, and keeps them', { skip: !rc.name.startsWith('docker') }, async () => {
      const { id, stray } = await withStray();
      try {
        assert.deepEqual(await rt.stop(id, { graceMs: 200 }), { state: 'absent' });
        assert.equal((await stray.inspect()).State.Running, false, 'the other labelled container is stopped too');
      } finally {
        await rt.destroy(id, { graceMs: 200 }); // removes the stray too
        await stray.remove({ force: true }).catch(() => undefined);
      }
    });

    it('a stop ends a paused container (paused by hand): thawed, then stopped with SIGTERM', { skip: !rc.name.startsWith('docker') }, async () => {
      const docker = engineFor(testDockerHost());
      const s = spec({ command: ['sleep', '300'], runtype: 'args' });
      await rt.start(s);
      const runtimeId = (await readFile(join(root, 'runtime-id'), 'utf8')).trim();
      const own = docker.getContainer(`gantry-${runtimeId.slice(0, 8)}-${s.instanceId}`);
      await own.pause();
      try {
        assert.deepEqual(await rt.stop(s.instanceId, { graceMs: 5000 }), { state: 'absent' });
        const st = (await own.inspect()).State;
        assert.deepEqual([st.Running, st.Paused, st.ExitCode], [false, false, 143], 'ended by the SIGTERM, not left paused to run on when unpaused');
      } finally {
        await rt.destroy(s.instanceId, { graceMs: 200 });
      }
    });

    it(
      'a labelled container running for an instance that is not its own is stopped at a listing, never taken for the instance',
      { skip: !rc.name.startsWith('docker') },
      async () => {
        const { id, stray } = await withStray();
        try {
          assert.deepEqual(await rt.stop(id, { graceMs: 200 }), { state: 'absent' });
          await stray.start(); // made to run again by hand, the instance stopped
          await stray.pause(); // paused too: it still holds its processes
          // The look reports the instance's own container (a stopped instance is not billed or moved to stopping for it).
          assert.equal((await rt.inspect(id)).state, 'absent');
          assert.ok((await rt.list()).includes(id), 'still listed under the label: an orphan sweep finds it');
          await until(async () => !(await stray.inspect()).State.Running, 30_000);
          assert.equal((await rt.inspect(id)).state, 'absent');
        } finally {
          await rt.destroy(id, { graceMs: 200 });
          await stray.remove({ force: true }).catch(() => undefined);
        }
      },
    );

    it(
      'a running instance whose own container ended reads exited, though a stray labelled as it runs (which is stopped)',
      { skip: !rc.name.startsWith('docker') },
      async () => {
        const { id, runtimeId, stray, docker } = await withStray();
        try {
          await docker.getContainer(`gantry-${runtimeId.slice(0, 8)}-${id}`).kill();
          await until(async () => (await rt.inspect(id)).state === 'exited');
          await rt.list(); // as every host sweep and heartbeat lists the runtime
          await until(async () => !(await stray.inspect()).State.Running, 30_000);
        } finally {
          await rt.destroy(id, { graceMs: 200 });
          await stray.remove({ force: true }).catch(() => undefined);
        }
      },
    );

    it('a stray labelled as a running instance is stopped at a listing; the instance keeps running', { skip: !rc.name.startsWith('docker') }, async () => {
      const { id, stray } = await withStray();
      try {
        await rt.list(); // as every host sweep and heartbeat lists the runtime
        await until(async () => !(await stray.inspect()).State.Running, 30_000);
        assert.equal((await rt.inspect(id)).state, 'running', "the instance's own container is left alone");
      } finally {
        await rt.destroy(id, { graceMs: 200 });
        await stray.remove({ force: true }).catch(() => undefined);
      }
    });

    it("a pull that fails gives the engine's reason", { skip: !rc.name.startsWith('docker') }, async () => {
      // A registry on a closed loopback port: the engine's pull stream ends with an error event, not an HTTP error.
      // Rented through an account (as every Vast instance is): its own snapshot of that name is looked for first.
      const s = spec({ image: 'localhost:1/gantry-test/none:1', command: ['true'], runtype: 'args', accountId: 1 });
      await assert.rejects(rt.start(s), /could not be pulled: .*localhost:1.*connection refused/);
    });

    it('passes argv without a shell: metacharacters stay literal', async () => {
      const s = spec({ command: ['echo', '$(id) ; rm -rf /'], runtype: 'args' });
      await rt.start(s);
      await until(async () => (await rt.inspect(s.instanceId)).state === 'exited');
      assert.equal(await rt.logs(s.instanceId, 5), '$(id) ; rm -rf /\n');
    });

    it('start is idempotent: a running workload is adopted, not duplicated', async () => {
      const s = spec({ onstart: 'echo started >> count.txt; sleep 60' });
      // Two at once as well (a start step retried while the first still runs): one workload.
      await Promise.all([rt.start(s), rt.start(s)]);
      await rt.start(s);
      await until(async () => (await rt.inspect(s.instanceId)).state === 'running');
      const again = await rc.open(root); // a new process after a crash sees the same workload
      await again.start(s);
      assert.equal((await again.inspect(s.instanceId)).state, 'running');
      const count = join(root, String(s.instanceId), 'disk', 'count.txt');
      await until(() => exists(count));
      await new Promise((r) => setTimeout(r, 200)); // room for a second start to show, were there one
      assert.equal(await readFile(count, 'utf8'), 'started\n');
      await again.stop(s.instanceId, { graceMs: 500 });
      await again.close();
    });

    it('stops the whole process group, SIGKILL after the grace period if SIGTERM is ignored', async () => {
      // The child writes `ready` once both traps are installed.
      const s = spec({ onstart: `trap '' TERM; (trap '' TERM; echo > ready; sleep 300) & sleep 300` });
      await rt.start(s);
      await until(() => exists(join(root, String(s.instanceId), 'disk', 'ready')));
      const began = Date.now();
      const after = await rt.stop(s.instanceId, { graceMs: 400 });
      assert.deepEqual(after, { state: 'absent' });
      assert.ok(Date.now() - began >= 400, 'waited for the grace period first');
      assert.equal((await rt.list()).includes(s.instanceId), true, 'the disk stays after a stop');
      assert.ok((await stat(join(root, String(s.instanceId), 'disk'))).isDirectory());
    });

    // Docker signals the container's first process only and waits out its own timeout: a process runtime's concern.
    it(
      'signals a process started just as the stop signal went out, instead of waiting out the grace period for it',
      { skip: rc.name.startsWith('docker') },
      async () => {
        // On SIGTERM the shell starts one more process (it never got the signal) and waits for it. Only a stop that
        // looks for the workload's processes again while it waits gives that one a SIGTERM; otherwise the whole group
        // gets SIGKILL once the grace period ends, and the shell never writes \`after\`.
        // (\`t\`: the group's next SIGTERM interrupts the wait and runs the trap again, which then does nothing.)
        const s = spec({ onstart: `trap 'if [ -z "$t" ]; then t=1; sleep 600 & wait $!; echo $? > after; exit 0; fi' TERM; echo > ready; sleep 600 & wait` });
        await rt.start(s);
        await until(() => exists(join(root, String(s.instanceId), 'disk', 'ready')));
        assert.deepEqual(await rt.stop(s.instanceId, { graceMs: 20_000 }), { state: 'absent' });
        const after = await readFile(join(root, String(s.instanceId), 'disk', 'after'), 'utf8').catch(() => null);
        assert.equal(after?.trim(), '143', 'the late process ended by SIGTERM, not the group by SIGKILL');
      },
    );

    it('gives each process one SIGTERM, however many processes the workload starts while it stops', { skip: rc.name.startsWith('docker') }, async () => {
      // The shell counts its SIGTERMs and keeps starting short-lived processes: a stop that signalled the whole
      // group again for each new one would run the trap again (many programs take a second SIGTERM as "now").
      const s = spec({ onstart: `trap 'echo t >> terms' TERM; echo > ready; while :; do sleep 0.02; done` });
      await rt.start(s);
      await until(() => exists(join(root, String(s.instanceId), 'disk', 'ready')));
      assert.deepEqual(await rt.stop(s.instanceId, { graceMs: 600 }), { state: 'absent' });
      assert.equal(await readFile(join(root, String(s.instanceId), 'disk', 'terms'), 'utf8'), 't\n');
    });

    it('a stop right after the start ends on SIGTERM, without waiting out the grace period', { skip: rc.name.startsWith('docker') }, async () => {
      // The wrapper may not have connected its output to the stamper yet: a stamper that ignored SIGTERM
      // from its start then waited in its open until the SIGKILL at the grace period's end.
      const graceMs = 20_000;
      for (let i = 0; i < 5; i++) {
        const s = spec({ onstart: 'sleep 600' });
        await rt.start(s);
        const began = Date.now();
        assert.deepEqual(await rt.stop(s.instanceId, { graceMs }), { state: 'absent' });
        assert.ok(Date.now() - began < graceMs, `stop ${i} needed the SIGKILL`);
      }
    });

    it('wipes the disk on recycle and removes everything on destroy', async () => {
      const s = spec({ onstart: 'echo data > file.txt; sleep 60' });
      await rt.start(s);
      const disk = join(root, String(s.instanceId), 'disk');
      await until(() => exists(join(disk, 'file.txt')));
      await rt.stop(s.instanceId, { graceMs: 500 });
      await rt.wipeDisk(s.instanceId);
      await assert.rejects(stat(join(disk, 'file.txt')));
      await writeFile(join(disk, 'keep'), 'x');
      assert.deepEqual(await rt.destroy(s.instanceId, { graceMs: 500 }), { state: 'absent' });
      await assert.rejects(stat(join(root, String(s.instanceId))));
      assert.equal((await rt.list()).includes(s.instanceId), false);
    });

    it('reports usage of a live workload', async () => {
      const s = spec({ onstart: 'sleep 60' });
      await rt.start(s);
      // The first sample may land while the workload is still being exec'd; usage shows up right after.
      await until(async () => {
        const u = await rt.usage(s.instanceId);
        return u !== null && u.memUsageMb > 0;
      });
      await rt.stop(s.instanceId, { graceMs: 500 });
      assert.equal(await rt.usage(s.instanceId), null);
    });
  });
}

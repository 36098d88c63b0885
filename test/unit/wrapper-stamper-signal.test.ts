import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { STAMP_NODE, STAMP_PERL } from '../../src/runtime/process/stamper.js';
import { WRAPPER_SCRIPT } from '../../src/runtime/process/wrapper.js';

const perlStamps = spawnSync('perl', ['-MTime::HiRes', '-e', '1']).status === 0;

/** Each stamper, held up for a second between its FIFOs' open and its SIGTERM ignore: the moment a stop must not find it in. */
const STAMPERS = [
  {
    kind: 'node',
    skip: false,
    script: 'stamp.cjs',
    text: STAMP_NODE.replace("for (const s of ['SIGTERM'", 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);\n$&'),
  },
  {
    kind: 'perl',
    skip: !perlStamps && 'no perl with Time::HiRes here',
    script: 'stamp.pl',
    text: STAMP_PERL.replace('$SIG{TERM} = ', 'select(undef, undef, undef, 1);\n$&'),
  },
] as const;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const until = async (f: () => Promise<boolean>, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) if (await f()) return true;
  return f();
};

for (const s of STAMPERS) {
  describe(`the wrapper and its ${s.kind} stamper (wrapper.ts)`, { skip: s.skip }, () => {
    it("starts the workload only once the stamper ignores SIGTERM: a stop's SIGTERM then ends neither, nor the workload through a broken pipe", async () => {
      assert.notEqual(s.text, s.kind === 'node' ? STAMP_NODE : STAMP_PERL, 'the pause went in');
      const root = await mkdtemp(join(tmpdir(), 'gantry-wrapper-'));
      const [meta, out, disk] = ['meta', 'meta/out', 'disk'].map((d) => join(root, d)) as [string, string, string];
      for (const d of [out, disk]) await mkdir(d, { recursive: true });
      await writeFile(join(meta, 'run.sh'), WRAPPER_SCRIPT);
      await writeFile(join(meta, s.script), s.text);
      // Its SIGTERM's trap writes to stdout: without a stamper to read it, the shell ends by SIGPIPE (so it did,
      // through its report of the sleep the SIGTERM ended, when a stop came just as the workload had started).
      await writeFile(join(meta, 'onstart.sh'), `trap 'echo stopping' TERM; echo $$ > ready; while :; do sleep 0.02; done`);
      const env = {
        PATH: process.env['PATH'],
        GANTRY_META: meta,
        GANTRY_OUT: out,
        GANTRY_RUNTYPE: 'ssh',
        GANTRY_LOG_STAMPER: s.kind,
        GANTRY_NODE: process.execPath,
      };
      const wrapper = spawn('bash', [join(meta, 'run.sh')], { cwd: disk, env, detached: true, stdio: 'ignore' });
      const group = wrapper.pid as number;
      try {
        const ready = (): Promise<string> => readFile(join(disk, 'ready'), 'utf8').catch(() => '');
        assert.ok(await until(async () => (await ready()).endsWith('\n'), 10_000), 'the workload started');
        const shell = Number((await ready()).trim());
        process.kill(-group, 'SIGTERM'); // as a stop does
        const log = (): Promise<string> => readFile(join(out, 'output.log'), 'latin1').catch(() => '');
        assert.ok(await until(async () => / o stopping\n/.test(await log()), 3_000), `the trap's line was stamped (output: ${JSON.stringify(await log())})`);
        assert.ok(alive(shell), 'the workload goes on after its trap');
      } finally {
        try {
          process.kill(-group, 'SIGKILL');
        } catch {
          // already gone
        }
        await rm(root, { recursive: true, force: true });
      }
    });
  });
}

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readProcText } from '../../src/runtime/process/proc-read.js';
import { ProcTable } from '../../src/runtime/process/proc-table.js';
import { spawn } from 'node:child_process';

/** Whether /proc/PID/stat says the kernel's own thread (the PF_KTHREAD flag). */
const kernelThread = (pid: number): boolean => {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(rest[6]) & 0x00200000) !== 0;
};

describe('the process table (/proc)', { skip: existsSync('/proc/self/stat') ? false : 'no /proc' }, () => {
  it("holds this process with its group and real uid, and none of the kernel's threads", async () => {
    const table = await new ProcTable(0, { uids: true }).snapshot();
    const me = table.find((p) => p.pid === process.pid);
    assert.ok(me !== undefined, 'this process is in it');
    assert.equal(me.uid, process.getuid?.());
    assert.equal(me.state === 'R' || me.state === 'S', true, me.state);
    // kthreadd (pid 2) and its children: the workload runtime never needs them, and reading each one's uid cost a scan half its time.
    if (existsSync('/proc/2/stat') && kernelThread(2))
      assert.equal(
        table.find((p) => p.pid === 2),
        undefined,
        'kthreadd is left out',
      );
    assert.ok(
      table.every((p) => !existsSync(`/proc/${p.pid}/stat`) || !kernelThread(p.pid)),
      'no kernel thread',
    );
  });

  it('reads /proc files whole through its kept buffer, as readFileSync does, however long', async () => {
    // An environment longer than the buffer's first size (16 KiB) and than what it keeps (64 KiB).
    const long = 'x'.repeat(100 * 1024);
    const child = spawn('sleep', ['30'], { env: { GANTRY_LONG: long, GANTRY_INSTANCE_ID: '7' }, stdio: 'ignore' });
    await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    try {
      const path = `/proc/${child.pid}/environ`;
      assert.equal(readProcText(path), readFileSync(path, 'latin1'));
      assert.equal(readProcText(`/proc/${child.pid}/cmdline`), 'sleep\x0030\x00', 'and a short one after it');
      assert.equal(readProcText(path).length, readFileSync(path).length);
      const table = await new ProcTable(0).snapshot();
      assert.equal(table.find((p) => p.pid === child.pid)?.instanceId, 7, 'its label after the long variable is read');
    } finally {
      child.kill('SIGKILL');
    }
    assert.throws(() => readProcText('/proc/0/stat'), { code: 'ENOENT' });
  });
});

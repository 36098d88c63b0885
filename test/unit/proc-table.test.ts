import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ProcTable } from '../../src/runtime/process/proc-table.js';

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
});

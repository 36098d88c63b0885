import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { STAMP_PERL } from '../../src/runtime/process/stamper.js';

const perl = spawnSync('perl', ['-e', '1']).status === 0;

describe('the perl stamper (stamper.ts)', { skip: !perl && 'no perl here' }, () => {
  it('compiles under strict and warnings (it runs without them: each is milliseconds of every start)', () => {
    const r = spawnSync('perl', ['-Mstrict', '-Mwarnings', '-c', '-e', STAMP_PERL], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('stops, quietly and before its open, where Time::HiRes is not to be found (node then takes over)', () => {
    // FIFOs that do not exist: reaching the open would end it with another status and a message.
    const r = spawnSync('perl', ['-e', `@INC = (); ${STAMP_PERL}`, '/nonexistent/stdout.fifo', '/nonexistent/stderr.fifo'], { encoding: 'utf8' });
    assert.deepEqual({ status: r.status, stderr: r.stderr }, { status: 3, stderr: '' });
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

/** `npm run bench -- PART`: a part it does not know is refused with the list, before anything is measured or written. */
describe('bench parts', () => {
  it('--help lists the parts; an unknown part is refused (exit 2) naming it', () => {
    const help = spawnSync(process.execPath, [RUN, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stderr, /^usage: npm run bench \[-- PART\.\.\.\]/);
    assert.match(help.stderr, /parts: search, create, stop, .*console/);
    const bad = spawnSync(process.execPath, [RUN, 'bogus'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^unknown part: bogus\n/);
  });
});

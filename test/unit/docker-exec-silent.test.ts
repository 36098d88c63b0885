import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { containerExec } from '../../src/runtime/docker/docker-exec.js';

/**
 * An exec (an SSH session, `execute`, a copy) in a container whose engine stops answering its inspects: a kill
 * waited for the engine to name the process before it cut the session, and the exit code's reads had no bound,
 * so the session (and what waits on it) stayed for good.
 */
describe('an exec whose engine does not answer its inspects', () => {
  it('is cut at once by a kill, and its end comes within the read bound', { timeout: 15_000 }, async () => {
    const stream = new PassThrough();
    const ex = { start: () => Promise.resolve(stream), inspect: () => new Promise(() => undefined), resize: () => Promise.resolve() };
    const docker = { getContainer: () => ({ exec: () => Promise.resolve(ex) }), modem: { demuxStream: () => undefined } } as unknown as Docker;
    const p = await containerExec(docker, 'c', { argv: ['sh'], env: {}, tty: { rows: 24, cols: 80, term: 'xterm' } }, 500);
    p.kill();
    assert.equal(stream.destroyed, true, 'the session is cut at once');
    // The bound's timer does not hold the process open (a real engine's request does): this test holds it.
    const alive = setInterval(() => undefined, 1_000);
    assert.deepEqual(await p.done.finally(() => clearInterval(alive)), { code: null, signal: null });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/agent/dispatch.js';
import { AgentSession } from '../../src/control/hosts/agent-session.js';
import { demuxStampedLogs } from '../../src/runtime/docker/engine-streams.js';
import { newestText, newestWithin, selectLines } from '../../src/runtime/log-lines.js';
import type { LogLine, LogQuery, Runtime } from '../../src/runtime/runtime.js';

const line = (at: number, text: string, stream: LogLine['stream'] = 'stdout'): LogLine => ({ at, stream, text });

const frame = (stream: 1 | 2, text: string): Buffer => {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([head, Buffer.from(text)]);
};

describe('log lines', () => {
  it('selects a window (both ends inclusive), oldest first, the newest tail', () => {
    const lines = [line(30, 'c'), line(10, 'a'), line(20, 'b', 'stderr'), line(20, 'b2'), line(40, 'd')];
    assert.deepEqual(
      selectLines(lines, { tail: 10 }).map((l) => l.text),
      ['a', 'b', 'b2', 'c', 'd'],
    );
    assert.deepEqual(
      selectLines(lines, { tail: 2, since: 20, until: 30 }).map((l) => l.text),
      ['b2', 'c'],
    );
    assert.deepEqual(selectLines(lines, { tail: 0 }), []);
  });

  it('keeps the newest lines within a byte budget', () => {
    const lines = [line(1, 'x'.repeat(100)), line(2, 'y'.repeat(100)), line(3, 'z')];
    assert.deepEqual(
      newestWithin(lines, 200).map((l) => l.at),
      [2, 3],
    );
    assert.deepEqual(newestWithin(lines, 10), []);
  });

  it('reads stamped, multiplexed engine logs, and a TTY container plain', () => {
    const muxed = Buffer.concat([
      frame(1, '2026-01-02T03:04:05.123456789Z hello\n'),
      frame(2, '2026-01-02T03:04:06Z oops\n'),
      frame(1, '2026-01-02T05:04:07.5+02:00 no newline'),
    ]);
    assert.deepEqual(demuxStampedLogs(muxed), [
      line(Date.parse('2026-01-02T03:04:05.123Z'), 'hello'),
      line(Date.parse('2026-01-02T03:04:06.000Z'), 'oops', 'stderr'),
      line(Date.parse('2026-01-02T03:04:07.500Z'), 'no newline'),
    ]);
    assert.deepEqual(demuxStampedLogs(Buffer.from('2026-01-02T03:04:05.1Z tty one\n2026-01-02T03:04:05.2Z tty two\n')), [
      line(Date.parse('2026-01-02T03:04:05.100Z'), 'tty one'),
      line(Date.parse('2026-01-02T03:04:05.200Z'), 'tty two'),
    ]);
  });

  it('crosses the agent protocol: the query goes out, well-formed lines come back', async () => {
    const session = new AgentSession(7, null, { callTimeoutMs: 5000, stepTimeoutMs: 5000, connectedWindowMs: 60_000, heartbeatWindowMs: 60_000 }, Date.now);
    let asked: { id: number; q: LogQuery } | null = null;
    const rt = {
      logLines(id: number, q: LogQuery): Promise<LogLine[]> {
        asked = { id, q };
        return Promise.resolve([line(5, 'five'), line(6, 'six', 'stderr')]);
      },
    } as unknown as Runtime;
    const answer = session.logLines(42, { tail: 3, since: 1 });
    const [cmd] = await session.take(0, 10);
    assert.ok(cmd !== undefined);
    assert.deepEqual({ ...cmd, id: 'x' }, { id: 'x', op: 'logLines', instanceId: 42, query: { tail: 3, since: 1 } });
    // What comes back is read strictly: a malformed line from the agent is dropped.
    const value = JSON.parse(JSON.stringify(await dispatch(rt, cmd))) as unknown[];
    session.settle([{ id: cmd.id, ok: true, value: [value[0], { at: 'bad', stream: 'stdout', text: 'x' }, value[1]] }]);
    assert.deepEqual(asked, { id: 42, q: { tail: 3, since: 1 } });
    assert.deepEqual(await answer, [line(5, 'five'), line(6, 'six', 'stderr')]);
  });

  it("a runtime's whole log tail crosses the agent protocol as its newest whole lines within 512 KiB", async () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'é'.repeat(40)}`).join('\n') + '\n';
    const rt = { logs: (): Promise<string> => Promise.resolve(big) } as unknown as Runtime;
    const sent = (await dispatch(rt, { id: 'c', op: 'logs', instanceId: 1, tail: 100_000 } as never)) as string;
    assert.ok(Buffer.byteLength(sent) <= 512 * 1024);
    assert.ok(big.endsWith(sent), 'the newest of it');
    assert.match(sent, /^line \d+ é/, 'from a whole line');
    assert.equal(newestText('short\n', 512), 'short\n');
  });
});

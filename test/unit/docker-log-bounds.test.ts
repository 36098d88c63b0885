import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { LogDemuxer, NewestLines, NewestText } from '../../src/runtime/docker/log-tail.js';
import { newestText, newestWithin, selectLines } from '../../src/runtime/log-lines.js';
import type { LogLine, LogQuery } from '../../src/runtime/runtime.js';
import { liveMemory } from '../helpers/live-memory.js';

const MiB = 1024 * 1024;

const header = (stream: 1 | 2, size: number): Buffer => {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(size, 4);
  return h;
};
const frame = (stream: 1 | 2, text: string): Buffer => Buffer.concat([header(stream, Buffer.byteLength(text)), Buffer.from(text)]);
const stamp = (s: number): string => new Date(Date.UTC(2026, 0, 2, 3, 4, 5) + s * 1000).toISOString().replace('Z', '123456Z');

/** The engine's stream as one frame of `size` bytes of `fill` (one line, no newline), then `rest`; made as it is read. */
function* hugeLine(size: number, rest: Buffer, prefix = ''): Generator<Buffer> {
  const piece = Buffer.alloc(MiB, 'x');
  const head = Buffer.from(prefix);
  yield Buffer.concat([header(1, head.length + size), head]);
  for (let left = size; left > 0; left -= piece.length) yield left >= piece.length ? piece : piece.subarray(0, left);
  yield rest;
}

/** `buf` cut into pieces of the sizes given in turn: frames and lines cut anywhere. */
function* cut(buf: Buffer, sizes: readonly number[]): Generator<Buffer> {
  for (let at = 0, i = 0; at < buf.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield buf.subarray(at, at + n);
    at += n;
  }
}

/** Reading the whole answer, as the runtime did before: the reference for what comes back. */
function wholeFrames(buf: Buffer): { stream: LogLine['stream']; payload: Buffer }[] {
  const out: { stream: LogLine['stream']; payload: Buffer }[] = [];
  for (let at = 0; at < buf.length;) {
    const size = buf.readUInt32BE(at + 4);
    out.push({ stream: buf[at] === 2 ? 'stderr' : 'stdout', payload: buf.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return out;
}
function wholeLines(buf: Buffer, q: LogQuery, max: number): LogLine[] {
  const lines: LogLine[] = [];
  for (const { stream, payload } of wholeFrames(buf)) {
    const parts = payload.toString('utf8').split('\n');
    if (parts.at(-1) === '') parts.pop();
    for (const p of parts) lines.push({ at: Date.parse(p.slice(0, 23) + 'Z'), stream, text: p.slice(p.indexOf(' ') + 1) });
  }
  return newestWithin(selectLines(lines, q), max);
}

/** Feeds the pieces through a demuxer into `sink`, and gives the most the sink held at any time. */
function feed(pieces: Iterable<Buffer>, sink: NewestText | NewestLines): number {
  const d = new LogDemuxer(sink);
  let most = 0;
  for (const p of pieces) {
    d.push(p);
    most = Math.max(most, sink.held);
  }
  d.end();
  return most;
}

describe('bounded reads of a container log stream', () => {
  it('keeps the newest bytes of one line of 64 MiB, holding no more than the bound', () => {
    const text = new NewestText(64 * 1024);
    const most = feed(hugeLine(64 * MiB, frame(2, '\nlast words\n')), text);
    assert.ok(most <= 64 * 1024, `held ${most} bytes`);
    assert.equal(text.text(), 'last words\n', 'the cut line is dropped, as newestText does');
    const alone = new NewestText(1000);
    feed(hugeLine(5 * MiB, Buffer.alloc(0)), alone);
    assert.equal(alone.text(), 'x'.repeat(1000), 'a line with no newline kept is its newest bytes');
  });

  it('gives the same text as reading it whole and cutting, wherever the pieces fall', () => {
    const whole = Buffer.concat(Array.from({ length: 300 }, (_, i) => frame(i % 3 === 0 ? 2 : 1, `line ${i} ${'é'.repeat(i % 17)}\n`)));
    for (const sizes of [[1], [7, 3, 8], [8], [4096], [whole.length]]) {
      for (const max of [50, 333, 4096, whole.length]) {
        const text = new NewestText(max);
        assert.ok(feed(cut(whole, sizes), text) <= max);
        const payload = Buffer.concat(wholeFrames(whole).map((f) => f.payload)).toString('utf8');
        assert.equal(text.text(), newestText(payload, max), `pieces ${sizes.join(',')}, bound ${max}`);
      }
    }
  });

  it('keeps the newest stamped lines within the bound and the tail, the same as reading them whole', () => {
    const whole = Buffer.concat(
      Array.from({ length: 2000 }, (_, i) => frame(i % 5 === 0 ? 2 : 1, `${stamp(i)} ${String(i).padStart(5, '0')} ${'y'.repeat(i % 997)}\n`)),
    );
    const queries: LogQuery[] = [{ tail: 100_000 }, { tail: 30 }, { tail: 1000, since: Date.parse(stamp(100)) }, { tail: 50, until: Date.parse(stamp(1500)) }];
    for (const q of queries) {
      for (const max of [2000, 64 * 1024]) {
        const lines = new NewestLines(q, max);
        const most = feed(cut(whole, [4096, 13]), lines);
        assert.ok(most <= 3 * max + 64 + 2000, `held ${most} bytes with the bound ${max}`);
        assert.deepEqual(lines.lines(), wholeLines(whole, q, max), JSON.stringify({ q, max }));
      }
    }
  });

  it('reads a stamped line of 64 MiB through, keeping only its stamp: the lines after it come back', () => {
    const lines = new NewestLines({ tail: 10 }, 64 * 1024);
    const rest = Buffer.concat([frame(1, `${stamp(2)} after one\n`), frame(2, `${stamp(3)} after two\n`)]);
    const most = feed(hugeLine(64 * MiB, rest, `${stamp(1)} `), lines);
    assert.ok(most <= 3 * 64 * 1024 + 64, `held ${most} bytes`);
    assert.deepEqual(
      lines.lines().map((l) => [l.stream, l.text]),
      [
        ['stdout', 'after one'],
        ['stderr', 'after two'],
      ],
    );
  });
});

const live = liveMemory;

/**
 * A stand-in engine on loopback whose containers printed one line of 64 MiB and then two short ones. It sends
 * with back-pressure and, every 4 MiB, samples the memory the process keeps: the reader's side is in this process.
 */
async function engine(mode: { silent: boolean }): Promise<{ server: Server; host: string; peak: () => number }> {
  let base = 0;
  let peak = 0;
  const logs = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.url?.includes('-404/logs') === true) return void res.writeHead(404).end('{"message":"no such container"}');
    res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
    if (mode.silent) return void res.flushHeaders();
    const stamped = new URL(req.url ?? '', 'http://x').searchParams.get('timestamps') === 'true';
    const rest = stamped ? Buffer.concat([frame(1, `${stamp(2)} after one\n`), frame(2, `${stamp(3)} after two\n`)]) : frame(2, '\nlast words\n');
    base = live();
    let sent = 0;
    for (const p of hugeLine(64 * MiB, rest, stamped ? `${stamp(1)} ` : '')) {
      if (!res.write(p)) await once(res, 'drain');
      sent += p.length;
      if (sent % (4 * MiB) < p.length) peak = Math.max(peak, live() - base);
    }
    res.end();
  };
  const server = createServer((req, res) => {
    if (req.url?.includes('/_ping') === true) return void res.end('OK');
    if (req.url?.includes('/events') === true) return void res.writeHead(200).flushHeaders(); // no events, for good
    if (req.url?.includes('/logs') === true) return void logs(req, res);
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, host: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, peak: () => peak };
}

describe('the docker runtime reads a huge log without holding it', () => {
  let root: string;
  const servers: Server[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-logbound-'));
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await rm(root, { recursive: true, force: true });
  });
  const open = async (silent = false): Promise<{ rt: DockerRuntime; peak: () => number }> => {
    const e = await engine({ silent });
    servers.push(e.server);
    const rt = await DockerRuntime.open({
      root: join(root, String(servers.length)),
      dockerHost: e.host,
      killWaitMs: 1000,
      pollMs: 50,
      nvidiaGpus: false,
      readTimeoutMs: 1_000,
    });
    return { rt, peak: e.peak };
  };

  it('logs: a line of 64 MiB passes through in bounded memory, and the newest whole lines come back', { timeout: 60_000 }, async () => {
    const { rt, peak } = await open();
    try {
      const text = await rt.logs(1, 100);
      // The whole answer, kept, is 64 MiB and more (61 MiB measured before the reads were bounded); the bound is
      // 512 KiB, plus what is in flight in this process's sockets, both ends (up to 17 MiB on a busy machine).
      assert.ok(peak() < 32 * MiB, `the reader kept ${(peak() / MiB).toFixed(1)} MiB`);
      assert.equal(text, 'last words\n');
      assert.equal(await rt.logs(404, 100), '', 'no such container: no logs');
    } finally {
      await rt.close();
    }
  });

  it('logLines: the same, with the lines after the long one', { timeout: 60_000 }, async () => {
    const { rt, peak } = await open();
    try {
      const lines = await rt.logLines(1, { tail: 100 });
      assert.ok(peak() < 32 * MiB, `the reader kept ${(peak() / MiB).toFixed(1)} MiB`);
      assert.deepEqual(
        lines.map((l) => [l.at, l.stream, l.text]),
        [
          [Date.parse(stamp(2)), 'stdout', 'after one'],
          [Date.parse(stamp(3)), 'stderr', 'after two'],
        ],
      );
      assert.deepEqual(await rt.logLines(404, { tail: 100 }), []);
    } finally {
      await rt.close();
    }
  });

  it('an engine that answers and then sends nothing fails the read after the read bound', { timeout: 20_000 }, async () => {
    const { rt } = await open(true);
    try {
      await assert.rejects(rt.logs(1, 10), /sent no logs for 1s/);
      await assert.rejects(rt.logLines(1, { tail: 10 }), /sent no logs for 1s/);
    } finally {
      await rt.close();
    }
  });
});

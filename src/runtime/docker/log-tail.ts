/**
 * A container's logs read piece by piece, keeping only what can be returned: a workload that printed one
 * line of gigabytes, or a tail of many long lines, must not pass whole through the agent's memory.
 */
import type { IncomingMessage } from 'node:http';
import type Docker from 'dockerode';
import { lineCost, selectLines } from '../log-lines.js';
import type { LogLine, LogQuery } from '../runtime.js';

type Stream = LogLine['stream'];

/** Takes the payload of a log stream as it comes; `frameEnd` when the bytes end one of the engine's frames (which ends a line). */
export interface LogSink {
  bytes(stream: Stream, b: Buffer, frameEnd: boolean): void;
  /** The stream ended (a last line without a newline ends with it). */
  end(): void;
}

const HEADER = 8;
const EMPTY = Buffer.alloc(0);

/** The header of a frame: stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, the payload's size. */
const isHeader = (h: Buffer): boolean => (h[0] === 0 || h[0] === 1 || h[0] === 2) && h[1] === 0 && h[2] === 0 && h[3] === 0;

/**
 * Container logs without a TTY arrive multiplexed: frames of an 8-byte header and a payload, which may be cut
 * anywhere across the pieces read. Logs that do not start with a header (a TTY container) are plain text, and
 * so is the rest of a stream once a header does not parse. Nothing is kept here but a header's first bytes.
 */
export class LogDemuxer {
  readonly #sink: LogSink;
  #mode: 'unknown' | 'frames' | 'plain' = 'unknown';
  #head: Buffer = EMPTY;
  #left = 0;
  #stream: Stream = 'stdout';

  constructor(sink: LogSink) {
    this.#sink = sink;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#mode === 'plain') {
        this.#sink.bytes('stdout', chunk.subarray(at), false);
        return;
      }
      if (this.#left > 0) {
        const n = Math.min(this.#left, chunk.length - at);
        this.#left -= n;
        this.#sink.bytes(this.#stream, chunk.subarray(at, at + n), this.#left === 0);
        at += n;
        continue;
      }
      const take = Math.min(HEADER - this.#head.length, chunk.length - at);
      this.#head = Buffer.concat([this.#head, chunk.subarray(at, at + take)]);
      at += take;
      if (this.#head.length < HEADER) return;
      const h = this.#head;
      this.#head = EMPTY;
      if (!isHeader(h)) {
        this.#mode = 'plain';
        this.#sink.bytes('stdout', h, false);
        continue;
      }
      this.#mode = 'frames';
      this.#stream = h[0] === 2 ? 'stderr' : 'stdout';
      this.#left = h.readUInt32BE(4);
    }
  }

  end(): void {
    // Fewer than 8 bytes in all is plain text; a header cut short at the end of frames is nothing.
    if (this.#mode !== 'frames' && this.#head.length > 0) this.#sink.bytes('stdout', this.#head, false);
    this.#head = EMPTY;
    this.#sink.end();
  }
}

/**
 * The newest `maxBytes` of the logs as text (stdout and stderr as they came), in a ring that holds no more.
 * Once older bytes were dropped, the text starts after the first newline kept, as `newestText` cuts: no
 * partial line first (and, when no newline is kept at all, no partial character).
 */
export class NewestText implements LogSink {
  readonly #max: number;
  #ring: Buffer;
  #start = 0;
  #len = 0;
  #seen = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
    // Grown as bytes come, up to the bound: a short log needs no ring of 512 KiB.
    this.#ring = Buffer.allocUnsafe(Math.min(maxBytes, 64 * 1024));
  }

  /** Bytes held now (the ring's size). */
  get held(): number {
    return this.#ring.length;
  }

  bytes(_stream: Stream, b: Buffer): void {
    if (b.length === 0) return;
    this.#seen += b.length;
    if (this.#len + b.length > this.#ring.length && this.#ring.length < this.#max) {
      // Not yet full, so not yet wrapped: the bytes lie at [0, len).
      const grown = Buffer.allocUnsafe(Math.min(this.#max, Math.max(this.#ring.length * 2, this.#len + b.length)));
      this.#ring.copy(grown, 0, 0, this.#len);
      this.#ring = grown;
    }
    const cap = this.#ring.length;
    if (b.length >= cap) {
      b.copy(this.#ring, 0, b.length - cap);
      this.#start = 0;
      this.#len = cap;
      return;
    }
    const end = (this.#start + this.#len) % cap;
    const first = Math.min(b.length, cap - end);
    b.copy(this.#ring, end, 0, first);
    if (first < b.length) b.copy(this.#ring, 0, first);
    const over = this.#len + b.length - cap;
    if (over > 0) {
      this.#start = (this.#start + over) % cap;
      this.#len = cap;
    } else this.#len += b.length;
  }

  end(): void {
    // Nothing is pending: the ring is the text.
  }

  text(): string {
    const cap = this.#ring.length;
    const tail = this.#start + this.#len - cap;
    let kept =
      tail > 0 ? Buffer.concat([this.#ring.subarray(this.#start), this.#ring.subarray(0, tail)]) : this.#ring.subarray(this.#start, this.#start + this.#len);
    if (this.#seen > this.#len) {
      const nl = kept.indexOf(0x0a);
      if (nl >= 0) kept = kept.subarray(nl + 1);
      else {
        let from = 0;
        while (from < kept.length && ((kept[from] as number) & 0xc0) === 0x80) from++;
        kept = kept.subarray(from);
      }
    }
    return kept.toString('utf8');
  }
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) /;

/** Room for a line's stamp (RFC3339Nano and a space), kept of a line too long to return. */
const STAMP_ROOM = 64;

/**
 * Logs asked for with `timestamps: true` (every line starts with an RFC3339Nano time and a space; a line
 * without one keeps the time of the line before it), of which only the lines `q` selects and that fit in
 * `maxBytes` as `newestWithin` counts are kept: the newest, a tail at most. A line too long to fit is
 * read through, keeping its stamp only; in the window it hides the lines before it, as `newestWithin`
 * stops there. A line may be 3 UTF-8 bytes a character, so one in progress holds up to 3 × `maxBytes`.
 */
export class NewestLines implements LogSink {
  readonly #q: LogQuery;
  readonly #max: number;
  readonly #lineCap: number;
  #kept: LogLine[] = [];
  #first = 0;
  #cost = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #tooLong = false;
  #stream: Stream = 'stdout';
  #last = 0;

  constructor(q: LogQuery, maxBytes: number) {
    this.#q = q;
    this.#max = maxBytes;
    this.#lineCap = 3 * maxBytes + STAMP_ROOM;
  }

  /** Bytes held now: the line in progress and the kept lines as `newestWithin` counts them. */
  get held(): number {
    return this.#pendingBytes + this.#cost;
  }

  bytes(stream: Stream, b: Buffer, frameEnd: boolean): void {
    let at = 0;
    for (;;) {
      const nl = b.indexOf(0x0a, at);
      this.#take(stream, b.subarray(at, nl === -1 ? b.length : nl));
      if (nl === -1) break;
      this.#line();
      at = nl + 1;
    }
    if (frameEnd) this.end();
  }

  end(): void {
    if (this.#pendingBytes > 0 || this.#tooLong) this.#line();
  }

  /** The kept lines as `selectLines` gives them: oldest first. */
  lines(): LogLine[] {
    return selectLines(this.#kept.slice(this.#first), this.#q);
  }

  #take(stream: Stream, piece: Buffer): void {
    this.#stream = stream;
    if (piece.length === 0 || this.#tooLong) return;
    if (this.#pendingBytes + piece.length <= this.#lineCap) {
      this.#pending.push(piece);
      this.#pendingBytes += piece.length;
      return;
    }
    this.#tooLong = true;
    if (this.#pendingBytes > STAMP_ROOM) {
      const head = Buffer.concat(this.#pending, this.#pendingBytes).subarray(0, STAMP_ROOM);
      this.#pending = [Buffer.from(head)];
      this.#pendingBytes = STAMP_ROOM;
    } else {
      const head = Buffer.from(piece.subarray(0, STAMP_ROOM - this.#pendingBytes));
      this.#pending.push(head);
      this.#pendingBytes += head.length;
    }
  }

  #line(): void {
    const raw = Buffer.concat(this.#pending, this.#pendingBytes).toString('utf8');
    const tooLong = this.#tooLong;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#tooLong = false;
    const m = RFC3339.exec(raw);
    const at = m === null ? this.#last : Date.parse(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}${m[3]}`);
    this.#last = Number.isFinite(at) ? at : this.#last;
    if (this.#last < (this.#q.since ?? -Infinity) || this.#last > (this.#q.until ?? Infinity)) return;
    if (tooLong) {
      this.#kept = [];
      this.#first = 0;
      this.#cost = 0;
      return;
    }
    const line: LogLine = { at: this.#last, stream: this.#stream, text: m === null ? raw : raw.slice(m[0].length) };
    this.#kept.push(line);
    this.#cost += lineCost(line);
    while (this.#first < this.#kept.length && (this.#kept.length - this.#first > this.#q.tail || this.#cost > this.#max)) {
      this.#cost -= lineCost(this.#kept[this.#first] as LogLine);
      this.#first++;
    }
    // Dropped lines are let go now and then, not one by one (a shift moves the whole array).
    if (this.#first > 1024 && this.#first * 2 > this.#kept.length) {
      this.#kept = this.#kept.slice(this.#first);
      this.#first = 0;
    }
  }
}

/** What GET /containers/{id}/logs takes besides stdout and stderr (follow is always false). */
export interface EngineLogQuery {
  readonly tail?: number;
  readonly since?: number;
  readonly until?: number;
  readonly timestamps?: boolean;
}

/**
 * A container's logs, each piece handed to `sink` (through the demuxer) as it comes. Asked through the engine
 * client's modem as a stream: its `logs` without `follow` gathers the whole answer into one buffer first.
 * The engine's answer, and each piece after it, must come within `stallMs`, else the read fails (an engine
 * that took the request and never answered, or stopped sending, would hold the command for good).
 * Rejects as the engine client does (`statusCode` 404 for no such container).
 */
export function readEngineLogs(docker: Docker, container: string, q: EngineLogQuery, sink: LogSink, stallMs: number): Promise<void> {
  const demux = new LogDemuxer(sink);
  const abort = new AbortController();
  return new Promise<void>((resolve, reject) => {
    let res: IncomingMessage | null = null;
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === null) return resolve();
      abort.abort();
      res?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => finish(new Error(`the container engine sent no logs for ${stallMs / 1000}s`)), stallMs);
    timer.unref();
    docker.modem.dial(
      {
        path: `/containers/${container}/logs?`,
        method: 'GET',
        isStream: true,
        abortSignal: abort.signal,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options: { stdout: true, stderr: true, follow: false, ...q },
      },
      (err, data) => {
        if (err !== null) return finish(err);
        res = data as IncomingMessage;
        if (settled) return void res.destroy();
        timer.refresh();
        res.on('data', (chunk: Buffer) => {
          timer.refresh();
          try {
            demux.push(chunk);
          } catch (e) {
            finish(e as Error);
          }
        });
        res.on('end', () => {
          demux.end();
          finish(null);
        });
        res.on('error', (e) => finish(e));
        // Closed without an end (the connection cut): what came is not the logs' newest part.
        res.on('close', () => finish(new Error('the container engine closed the log stream before its end')));
      },
    );
  });
}

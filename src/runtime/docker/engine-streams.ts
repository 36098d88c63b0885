/** Parsing of the Docker Engine API's byte streams: multiplexed logs and image-pull progress. */
import type { LogLine } from '../runtime.js';

interface Frame {
  readonly stream: 'stdout' | 'stderr';
  readonly payload: Buffer;
}

/**
 * Container logs without a TTY arrive multiplexed: frames of an 8-byte header (stream, 0, 0, 0, size as
 * big-endian u32) and a payload. Null when the buffer does not parse as frames (a TTY container: plain text).
 */
function frames(buf: Buffer): Frame[] | null {
  const out: Frame[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at];
    if (stream !== 0 && stream !== 1 && stream !== 2) return null;
    const size = buf.readUInt32BE(at + 4);
    if (at + 8 + size > buf.length) return null;
    out.push({ stream: stream === 2 ? 'stderr' : 'stdout', payload: buf.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return at === buf.length ? out : null;
}

/** The logs as one text; a buffer that does not parse as frames is returned as plain text. */
export function demuxLogs(buf: Buffer): string {
  const f = frames(buf);
  return f === null ? buf.toString('utf8') : Buffer.concat(f.map((x) => x.payload)).toString('utf8');
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) /;

/**
 * Logs asked for with `timestamps: true`: every line starts with an RFC3339Nano time and a space. A line
 * without one (not expected from an engine) keeps the time of the line before it.
 */
export function demuxStampedLogs(buf: Buffer): LogLine[] {
  const parts = frames(buf) ?? [{ stream: 'stdout' as const, payload: buf }];
  const out: LogLine[] = [];
  let last = 0;
  for (const { stream, payload } of parts) {
    const lines = payload.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines) {
      const m = RFC3339.exec(line);
      const at = m === null ? last : Date.parse(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}${m[3]}`);
      last = Number.isFinite(at) ? at : last;
      out.push({ at: last, stream, text: m === null ? line : line.slice(m[0].length) });
    }
  }
  return out;
}

export interface PullEvent {
  readonly id?: string;
  readonly status?: string;
  readonly error?: string;
  readonly errorDetail?: { readonly message?: string };
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
}

/** One line for status_msg from the layers seen so far, or null when the event says nothing new. */
export function pullProgressText(image: string, layers: Map<string, { current: number; total: number }>, ev: PullEvent): string | null {
  const d = ev.progressDetail;
  if (ev.id !== undefined && d?.total !== undefined && d.total > 0) {
    layers.set(ev.id, { current: Math.min(d.current ?? 0, d.total), total: d.total });
  } else if (ev.id !== undefined && /complete|already exists/i.test(ev.status ?? '')) {
    const l = layers.get(ev.id);
    if (l) l.current = l.total;
  } else return null;
  let current = 0;
  let total = 0;
  for (const l of layers.values()) {
    current += l.current;
    total += l.total;
  }
  if (total === 0) return null;
  const mb = (b: number): string => (b / 1e6).toFixed(1);
  return `pulling image ${image}: ${Math.floor((current / total) * 100)}% (${mb(current)} of ${mb(total)} MB, ${layers.size} layers)`;
}

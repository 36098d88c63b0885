/** Parsing of the Docker Engine API's byte streams: multiplexed logs and image-pull progress. */
import type { LogLine } from '../runtime.js';
import { LogDemuxer, NewestLines, NewestText, type LogSink } from './log-tail.js';

/** A whole buffer through the streaming parser (the runtime reads the engine piece by piece: log-tail.ts). */
function whole<S extends LogSink>(buf: Buffer, sink: S): S {
  const d = new LogDemuxer(sink);
  d.push(buf);
  d.end();
  return sink;
}

/** The logs as one text (frames' payloads in order); a buffer that does not start as frames is plain text. */
export function demuxLogs(buf: Buffer): string {
  return whole(buf, new NewestText(Math.max(buf.length, 1))).text();
}

/**
 * Logs asked for with `timestamps: true`: every line starts with an RFC3339Nano time and a space. A line
 * without one (not expected from an engine) keeps the time of the line before it.
 */
export function demuxStampedLogs(buf: Buffer): LogLine[] {
  return whole(buf, new NewestLines({ tail: Number.MAX_SAFE_INTEGER }, Number.MAX_SAFE_INTEGER)).lines();
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

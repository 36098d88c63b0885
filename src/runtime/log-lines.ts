import type { LogLine, LogQuery } from './runtime.js';

/** Selection shared by the runtimes: lines come in any order, leave oldest first, within the window, the newest `q.tail`. */
export function selectLines(lines: readonly LogLine[], q: LogQuery): LogLine[] {
  const since = q.since ?? -Infinity;
  const until = q.until ?? Infinity;
  // A stable sort: lines of one stream keep their order even when their times are equal.
  const inWindow = lines.filter((l) => l.at >= since && l.at <= until).sort((a, b) => a.at - b.at);
  return q.tail > 0 ? inWindow.slice(-q.tail) : [];
}

/**
 * The most log bytes one agent result carries (`newestText`, `newestWithin`), well under the control plane's
 * 1 MiB body limit (results travel in batches). The docker runtime's log reads keep no more than this either,
 * whatever the engine sends (the process runtime reads a fixed 4 MiB of its file at most).
 */
export const MAX_LOG_BYTES = 512 * 1024;

/** What one line counts for against a bound: its text (UTF-16 length, near enough), its stamp and stream as JSON. */
export const lineCost = (l: LogLine): number => l.text.length + 40;

/**
 * The newest lines whose texts add up to at most `maxBytes` (UTF-16 length, near enough): what crosses the
 * agent protocol must stay well under the control plane's body limit, whatever `tail` asked for.
 */
export function newestWithin(lines: readonly LogLine[], maxBytes: number): LogLine[] {
  let used = 0;
  let from = lines.length;
  while (from > 0) {
    const l = lines[from - 1] as LogLine;
    used += lineCost(l);
    if (used > maxBytes) break;
    from--;
  }
  return lines.slice(from);
}

/**
 * The newest whole lines of `text` within `maxBytes` (UTF-8): a container engine answers a log tail whole,
 * whatever its lines' sizes, and what crosses the agent protocol must stay under the control plane's body limit.
 */
export function newestText(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  const kept = buf.subarray(buf.length - maxBytes);
  const firstLineEnd = kept.indexOf(0x0a);
  return kept.subarray(firstLineEnd + 1).toString('utf8');
}

/** A LogLine from an untrusted value (an agent's result), or null. */
export function asLogLine(v: unknown): LogLine | null {
  if (typeof v !== 'object' || v === null) return null;
  const { at, stream, text } = v as Record<string, unknown>;
  if (typeof at !== 'number' || !Number.isFinite(at) || (stream !== 'stdout' && stream !== 'stderr') || typeof text !== 'string') return null;
  return { at, stream, text };
}

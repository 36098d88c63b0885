import type { LogLine, LogQuery } from './runtime.js';

/** Selection shared by the runtimes: lines come in any order, leave oldest first, within the window, the newest `q.tail`. */
export function selectLines(lines: readonly LogLine[], q: LogQuery): LogLine[] {
  const since = q.since ?? -Infinity;
  const until = q.until ?? Infinity;
  // A stable sort: lines of one stream keep their order even when their times are equal.
  const inWindow = lines.filter((l) => l.at >= since && l.at <= until).sort((a, b) => a.at - b.at);
  return q.tail > 0 ? inWindow.slice(-q.tail) : [];
}

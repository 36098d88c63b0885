import { openWorkloadFile } from '../files.js';
import type { LogLine } from '../runtime.js';

export { readCode } from '../files.js';
/** A workload's output is read from its last 4 MiB at most. */
const MAX_LOG_READ_BYTES = 4 * 1024 * 1024;

/**
 * The last MAX_LOG_READ_BYTES of `output.log`: `<epoch µs> <o|e> <text>` lines from the stamper, in the
 * order it saw them. A line without a stamp (the wrapper ran without a stamper, or a workload started
 * before stamps existed) counts as stdout at the time of the line before it. A cut first line is dropped.
 */
export async function readStamped(file: string): Promise<LogLine[]> {
  const fh = await openWorkloadFile(file);
  if (fh === null) return [];
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, MAX_LOG_READ_BYTES);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (len < size) lines.shift();
    const out: LogLine[] = [];
    let at = 0;
    for (const line of lines) {
      const m = /^(\d{1,17}) ([oe]) /.exec(line);
      if (m !== null) at = Math.floor(Number(m[1]) / 1000);
      out.push(m === null ? { at, stream: 'stdout', text: line } : { at, stream: m[2] === 'e' ? 'stderr' : 'stdout', text: line.slice(m[0].length) });
    }
    return out;
  } finally {
    await fh.close();
  }
}

import { closeSync, openSync, readSync } from 'node:fs';

/** Grown for a long environment, and given back once it outgrows this. */
const KEEP_BYTES = 64 * 1024;
let buf = Buffer.allocUnsafe(16 * 1024);

/**
 * A /proc file's text, read through one buffer kept between calls. A scan of the process table reads a
 * few hundred of these; `readFileSync` costs more than the read itself for them (/proc reports a size of
 * 0, so it reads in growing chunks into fresh buffers): two to three times as long for `status`, measured.
 * Latin-1: the fields read are numbers and `KEY=value` labels, and a name is never decoded.
 */
export function readProcText(path: string): string {
  const fd = openSync(path, 'r');
  try {
    let n = 0;
    for (let got = readSync(fd, buf, 0, buf.length, null); got > 0; got = readSync(fd, buf, n, buf.length - n, null)) {
      n += got;
      if (n === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger);
        buf = bigger;
      }
    }
    const text = buf.toString('latin1', 0, n);
    if (buf.length > KEEP_BYTES) buf = Buffer.allocUnsafe(16 * 1024);
    return text;
  } finally {
    closeSync(fd);
  }
}

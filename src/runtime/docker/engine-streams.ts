/** Parsing of the Docker Engine API's byte streams: multiplexed logs and image-pull progress. */

/**
 * Container logs without a TTY arrive multiplexed: frames of an 8-byte header (stream, 0, 0, 0, size as
 * big-endian u32) and a payload. A buffer that does not parse as frames is returned as plain text.
 */
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at];
    if (stream !== 0 && stream !== 1 && stream !== 2) return buf.toString('utf8');
    const size = buf.readUInt32BE(at + 4);
    if (at + 8 + size > buf.length) return buf.toString('utf8');
    parts.push(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  if (at !== buf.length) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

export interface PullEvent {
  readonly id?: string;
  readonly status?: string;
  readonly error?: string;
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

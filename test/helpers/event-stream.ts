/** One server-sent event as the console reads it. */
export interface StreamEvent {
  readonly event: string;
  readonly data: any;
}

export interface EventReader {
  readonly status: number;
  readonly events: StreamEvent[];
  /** Resolves with the first event (seen or to come) that matches, or rejects after `timeoutMs`. */
  waitFor(pred: (e: StreamEvent) => boolean, timeoutMs?: number, what?: string): Promise<StreamEvent>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens `GET /console/api/events` with the key in the Authorization header (as the console does) and parses the stream. */
export async function openEvents(url: string, key: string): Promise<EventReader & { body: any }> {
  const ac = new AbortController();
  const res = await fetch(`${url}/console/api/events`, { headers: { authorization: `Bearer ${key}` }, signal: ac.signal });
  if (res.status !== 200) {
    const body = await res.json().catch(() => null);
    return { status: res.status, body, events: [], waitFor: () => Promise.reject(new Error('no stream')), ended: Promise.resolve(), close: () => ac.abort() };
  }
  const events: StreamEvent[] = [];
  const waiters = new Set<() => void>();
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const ended = (async () => {
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) });
          for (const w of [...waiters]) w();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  const waitFor: EventReader['waitFor'] = (pred, timeoutMs = 20_000, what = 'an event') =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = events.find(pred);
        if (hit === undefined) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => [e.event, e.data?.id, e.data?.row?.actual_status]))}`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  return { status: 200, body: null, events, waitFor, ended, close: () => ac.abort() };
}

import { authHeaders, errorOf, keyRefused } from './api.js';

/** A pushed change: a record's id and its row as the page renders it (null: gone); id null: reload the whole list. */
export interface PushEvent {
  readonly id: number | null;
  readonly row?: unknown;
}

export type PushState = 'connecting' | 'live' | 'offline';

type Handler = (e: PushEvent) => void;

/**
 * The tab's one stream of `GET /console/api/events`, read with fetch (the key goes in a header, never
 * in a URL as EventSource would need). Pages subscribe by topic; every (re)connection says `hello`,
 * on which pages reload their lists, since changes may have been missed while disconnected. A broken
 * stream is opened again with growing backoff.
 */
class Push {
  readonly #topics = new Map<string, Set<Handler>>();
  readonly #hellos = new Set<() => void>();
  readonly #states = new Set<(s: PushState) => void>();
  #state: PushState = 'offline';
  #abort: AbortController | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #backoffMs = 500;

  get state(): PushState {
    return this.#state;
  }

  subscribe(topic: string, handler: Handler): () => void {
    let set = this.#topics.get(topic);
    if (set === undefined) this.#topics.set(topic, (set = new Set()));
    set.add(handler);
    this.#ensure();
    return () => set.delete(handler);
  }

  /** Called on every (re)connection: reload what the page shows. */
  onHello(handler: () => void): () => void {
    this.#hellos.add(handler);
    this.#ensure();
    return () => this.#hellos.delete(handler);
  }

  onState(handler: (s: PushState) => void): () => void {
    this.#states.add(handler);
    handler(this.#state);
    return () => this.#states.delete(handler);
  }

  /** Close the stream (logout); the next subscription opens it again. */
  stop(): void {
    this.#abort?.abort();
    this.#abort = null;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    this.#set('offline');
  }

  #set(s: PushState): void {
    if (this.#state === s) return;
    this.#state = s;
    for (const h of this.#states) h(s);
  }

  #ensure(): void {
    if (this.#abort === null && this.#retry === null) void this.#connect();
  }

  async #connect(): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    this.#set('connecting');
    try {
      const res = await fetch('/console/api/events', { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal: abort.signal });
      // A revoked key's stream is ended by the server, and opening it again is refused: back to the login page.
      if (res.status === 401) keyRefused(errorOf(await res.json().catch(() => null), 401, 'The API key is no longer valid.'));
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          this.#dispatch(buf.slice(0, end));
          buf = buf.slice(end + 2);
        }
      }
    } catch {
      // the stream broke or was refused: try again below
    }
    if (this.#abort !== abort) return; // stopped meanwhile
    this.#abort = null;
    this.#set('offline');
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect();
    }, this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, 30_000);
  }

  #dispatch(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return; // a heartbeat comment
    if (event === 'hello') {
      this.#backoffMs = 500;
      this.#set('live');
      for (const h of this.#hellos) h();
      return;
    }
    let parsed: PushEvent;
    try {
      parsed = JSON.parse(data.join('\n')) as PushEvent;
    } catch {
      return;
    }
    for (const h of this.#topics.get(event) ?? []) h(parsed);
  }
}

/** The tab's push channel. */
export const push = new Push();

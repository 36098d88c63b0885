import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { actionReach, authorize, type Principal } from '../../../control/principal.js';
import type { Action } from '../../../domain/account/actions.js';
import type { ResourceKind, ResourceRef } from '../../../domain/account/permissions.js';
import { GantryError } from '../../../domain/errors.js';
import type { ChangeTopic } from '../../../store/change-feed.js';
import { apiKeyOf } from '../../edge/api-key.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/** A changed record, loaded once for every stream: whose it is, and its row as the console renders it (null: it is gone). */
export interface PushItem {
  readonly accountId: number;
  readonly row: unknown;
  /** What a key's limits are checked against, where the record is not the event's id (a deployment, told of by its endpoint). */
  readonly auth?: ResourceRef;
}

/**
 * One kind of record the console is told about. Adding a kind is one `PushSource` in `PUSH_SOURCES`
 * (push-sources.ts): the stream, the shared subscription, coalescing and the fan-out are common.
 */
export interface PushSource {
  /** The event name the console subscribes to. */
  readonly topic: string;
  /** The store's change topics that say a record of this kind may have changed (its id is the record's). */
  readonly feeds: readonly ChangeTopic[];
  /** What a key must reach on the record's id to be told of it. */
  readonly action: Action;
  /** What the event's ids number (a key limited to some ids is checked against them). */
  readonly kind: ResourceKind;
  /** Admins are told of every account's records, not only their own. */
  readonly adminSeesAll?: boolean;
  /** Read the record once; undefined: nothing to tell (unknown id). */
  load(control: ControlPlane, id: number): Promise<PushItem | undefined>;
}

interface Stream {
  /** Who the stream is for; read again when credentials change. */
  p: Principal;
  readonly keyId: string;
  /** The key it was opened with (kept in memory like the principal cache's), to authenticate it again. */
  readonly credential: string | null;
  readonly raw: ServerResponse;
}

/**
 * One record's pushes: the coalescing timer, when the last load began, and the order of loads. Loads of
 * one record may overlap (a slow read outlasts the coalescing window); only one newer than the last
 * written is written, so a row read before a deletion never lands after the deletion's null.
 */
interface Pending {
  timer: NodeJS.Timeout | null;
  last: number;
  started: number;
  written: number;
  loading: number;
  /** The last load failed and was tried again: one more failure in a row is not (a database away would repeat it each window). */
  retried: boolean;
}

/** A stream whose unsent output grows past this is ended: its console reconnects and reloads. */
const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * The console's push channel (`GET /console/api/events`, server-sent events read with `fetch`, so the key
 * stays in a header). One subscription to the change feed per replica, whatever the number of open
 * consoles: a changed record is loaded once, at most once per coalescing window, and written to each
 * stream whose key may read it (its account, an admin where the kind allows, the key's reach per id).
 * A change without an id (the feed resynchronised) tells every stream to reload that kind.
 */
export class ConsoleEvents {
  readonly #streams = new Set<Stream>();
  readonly #perKey = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  readonly #sources = new Map<string, PushSource>();
  readonly #stops: (() => void)[] = [];
  #heartbeat: NodeJS.Timeout | null = null;
  #recheck: NodeJS.Timeout | null = null;
  /** Closed: a load still under way that fails schedules no retry, and a stream is no longer opened. */
  #closed = false;

  constructor(
    private readonly control: ControlPlane,
    private readonly o: { heartbeatMs: number; coalesceMs: number; streamsPerKey: number },
  ) {
    const changes = control.ctx.store.changes;
    // A key's rights may have changed (or it was revoked): each stream's key is authenticated again, once per key.
    this.#stops.push(changes.subscribe('credential', () => this.#credentialsChanged()));
  }

  /** Tell the console of one more kind of record (one subscription per feed topic, shared by every stream). */
  register(source: PushSource): void {
    if (this.#sources.has(source.topic)) throw new Error(`push source ${source.topic} registered twice`);
    this.#sources.set(source.topic, source);
    for (const feed of source.feeds) this.#stops.push(this.control.ctx.store.changes.subscribe(feed, (c) => this.#changed(source, c.id)));
  }

  /** How many streams are open on this replica. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Open a stream for the caller; refused (429) past the per-key bound, or (503) once closed, before anything is written. */
  open(p: Principal, credential: string | null, raw: ServerResponse): void {
    // Its request was authenticated as the server began to close: a stream opened now would hold the close open.
    if (this.#closed) throw new GantryError('SHUTTING_DOWN', 'This server is shutting down; open the stream again.');
    const keyId = p.keyId === null ? `account:${p.accountId}` : `key:${p.keyId}`;
    const held = this.#perKey.get(keyId) ?? 0;
    if (held >= this.o.streamsPerKey)
      throw new GantryError('CONSOLE_STREAMS_LIMIT', `This key has ${held} console event streams open here already (at most ${this.o.streamsPerKey}).`, {
        limit: this.o.streamsPerKey,
      });
    const s: Stream = { p, keyId, credential, raw };
    this.#streams.add(s);
    this.#perKey.set(keyId, held + 1);
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      // Written on the hijacked socket: the server's own headers (app.ts) do not reach it.
      'x-content-type-options': 'nosniff',
    });
    raw.on('close', () => this.#drop(s));
    // The console reloads its lists on every hello: it may have missed changes while disconnected.
    this.#write(s, `retry: 2000\nevent: hello\ndata: ${JSON.stringify({ topics: [...this.#sources.keys()] })}\n\n`);
    if (this.#heartbeat === null) {
      this.#heartbeat = setInterval(() => this.#beat(), this.o.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  /** End every stream (the server is closing, or credentials changed). */
  closeAll(): void {
    for (const s of [...this.#streams]) s.raw.end();
  }

  close(): void {
    this.#closed = true;
    this.closeAll();
    for (const stop of this.#stops.splice(0)) stop();
    for (const e of this.#pending.values()) if (e.timer !== null) clearTimeout(e.timer);
    this.#pending.clear();
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    if (this.#recheck !== null) clearTimeout(this.#recheck);
    this.#recheck = null;
  }

  #credentialsChanged(): void {
    if (this.#streams.size === 0 || this.#recheck !== null) return;
    this.#recheck = setTimeout(() => {
      this.#recheck = null;
      void this.#authenticateAgain();
    }, this.o.coalesceMs);
  }

  /** A revoked key's streams end; the others go on with the key's rights as they are now. */
  async #authenticateAgain(): Promise<void> {
    const byKey = new Map<string, Stream[]>();
    for (const s of this.#streams) if (s.credential !== null) byKey.set(s.credential, [...(byKey.get(s.credential) ?? []), s]);
    for (const [credential, streams] of byKey) {
      try {
        const p = await this.control.authenticate(credential);
        for (const s of streams) s.p = p;
      } catch {
        for (const s of streams) s.raw.end();
      }
    }
  }

  #drop(s: Stream): void {
    if (!this.#streams.delete(s)) return;
    const n = (this.#perKey.get(s.keyId) ?? 1) - 1;
    if (n <= 0) this.#perKey.delete(s.keyId);
    else this.#perKey.set(s.keyId, n);
    if (this.#streams.size === 0 && this.#heartbeat !== null) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = null;
    }
  }

  #write(s: Stream, chunk: string): void {
    if (s.raw.writableEnded || s.raw.destroyed) return;
    // A client that reads nothing: cut, not ended (an end waits for what is held to be sent, which it never
    // is, and the stream kept its key's place and its socket for as long as the client stayed).
    if (s.raw.writableLength > MAX_BUFFERED_BYTES) {
      s.raw.destroy();
      return;
    }
    s.raw.write(chunk);
  }

  #beat(): void {
    for (const s of this.#streams) this.#write(s, ': keep-alive\n\n');
    // Coalescing entries of records that went quiet are forgotten.
    const old = Date.now() - this.o.coalesceMs;
    for (const [k, e] of this.#pending) if (e.timer === null && e.loading === 0 && e.last < old) this.#pending.delete(k);
  }

  #changed(source: PushSource, id: number | null): void {
    if (this.#streams.size === 0 || this.#closed) return;
    if (id === null) {
      const chunk = `event: ${source.topic}\ndata: ${JSON.stringify({ id: null })}\n\n`;
      for (const s of this.#streams) if (actionReach(s.p)[source.action] !== 'none') this.#write(s, chunk);
      return;
    }
    const k = `${source.topic}:${id}`;
    let e = this.#pending.get(k);
    if (e === undefined) this.#pending.set(k, (e = { timer: null, last: Number.NEGATIVE_INFINITY, started: 0, written: 0, loading: 0, retried: false }));
    // A push is already due: it reads the record as it is then, this change included.
    if (e.timer !== null) return;
    const entry = e;
    entry.timer = setTimeout(
      () => {
        entry.timer = null;
        entry.last = Date.now();
        void this.#push(source, id, entry);
      },
      Math.max(0, entry.last + this.o.coalesceMs - Date.now()),
    );
  }

  async #push(source: PushSource, id: number, entry: Pending): Promise<void> {
    if (this.#streams.size === 0) return;
    const seq = ++entry.started;
    let item: PushItem | undefined;
    entry.loading++;
    try {
      item = await source.load(this.control, id);
    } catch (err) {
      this.control.ctx.log.warn({ err, topic: source.topic, id }, 'console push: the changed record could not be read');
      // Nor may an older load, still under way, write what it read: the record is read again instead, once.
      if (seq > entry.written) entry.written = seq;
      if (!entry.retried && seq === entry.started) {
        entry.retried = true;
        this.#changed(source, id);
      }
      return;
    } finally {
      entry.loading--;
    }
    if (seq === entry.started) entry.retried = false;
    // A load that began later has answered (or failed) already: this one read an older record.
    if (seq < entry.written) return;
    entry.written = seq;
    if (item === undefined) return;
    const chunk = `event: ${source.topic}\ndata: ${JSON.stringify({ id, row: item.row })}\n\n`;
    for (const s of this.#streams) if (mayRead(s.p, source, id, item)) this.#write(s, chunk);
  }
}

/** Whether one stream's key may read the record: its account (or any, for admins where allowed), the action on that id, an instance key's own instance. */
function mayRead(p: Principal, source: PushSource, id: number, item: PushItem): boolean {
  if (item.accountId !== p.accountId && !(source.adminSeesAll === true && p.isAdmin)) return false;
  if (p.scope === 'instance' && (source.action !== 'instance.read' || p.instanceId !== id)) return false;
  try {
    authorize(p, source.action, item.auth ?? { kind: source.kind, id });
    return true;
  } catch {
    return false;
  }
}

/** `GET /console/api/events`: the stream itself. The hub is built once per app and ended before the server closes. */
export function consoleEventRoutes(app: FastifyInstance, deps: EdgeDeps, sources: readonly PushSource[]): ConsoleEvents {
  const s = deps.control.ctx.settings;
  const hub = new ConsoleEvents(deps.control, {
    heartbeatMs: s.consoleEventsHeartbeatMs,
    coalesceMs: s.consoleEventsCoalesceMs,
    streamsPerKey: s.consoleEventsStreamsPerKey,
  });
  for (const source of sources) hub.register(source);
  // Open streams would keep the server's close waiting: they end first, and their consoles reconnect elsewhere.
  app.addHook('preClose', async () => hub.close());
  app.get('/console/api/events', async (req, reply) => {
    const p = principal(req);
    // The key as the edge read it (a bearer header, or `?api_key=`), to authenticate it again later.
    hub.open(p, apiKeyOf(req), reply.raw);
    reply.hijack();
  });
  return hub;
}

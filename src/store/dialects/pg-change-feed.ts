import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CHANGE_TOPICS, LocalChangeFeed, type ChangeTopic } from '../change-feed.js';
import { isMissingRegistry, leave, prove, sendNumbered, unconfirmed } from './pg-feed-registry.js';
import { discardConnection, PG_TIMEOUT_DEFAULTS, pgConnectionOptions, reportSparingly, type PgTimeouts } from './pg-retry.js';

const CHANNEL = 'gantry_changes';
/** NOTIFY payloads are limited to 8000 bytes: a batch of changes is sent in slices well below it. */
const PER_NOTIFY = 200;
/** The first wait before opening the listening connection again; it doubles up to feedReconnectMaxMs. */
const RECONNECT_FIRST_MS = 100;

/** The longest pause between two looks at whether the other replicas confirmed a credential change. */
const CONFIRM_POLL_MAX_MS = 50;

/** `s`: the number of a confirmed change (pg-feed-registry.ts), acknowledged once its entries are delivered. */
type Wire = { readonly o: string; readonly c: readonly (readonly [ChangeTopic, number | null])[]; readonly s?: number };

/** `p`, or a rejection after `ms` (its timer does not keep the process alive). */
function failAfter<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Changes between replicas on one PostgreSQL: `NOTIFY gantry_changes` after the write, one connection
 * per replica that LISTENs. PostgreSQL delivers a notification only after the sending transaction
 * commits and to every listening session, in commit order. This replica's own subscribers hear of a
 * change at once, without the round trip; its own notifications coming back are ignored (by origin).
 * The listening connection is opened again when it breaks; subscribers then get a resynchronisation
 * (id null on every topic), since what was sent meanwhile is lost. A connection whose peer vanished without a
 * reset (a silent network cut) never breaks by itself, and a listener only reads: it is asked to write that
 * it is alive (four times per feedTrustMs, at least every feedCheckMs), and one that gives no answer within
 * feedCheckMs is closed and opened again.
 *
 * Credential changes are confirmed (`publishConfirmed`, decision 014): numbered, and the publisher waits
 * until every other replica's listener wrote that it heard that number, or went unproven for feedTrustMs.
 * A replica uses remembered keys only while `current()`: listening, and proved within feedTrustMs.
 */
export class PgChangeFeed extends LocalChangeFeed {
  readonly #url: string;
  readonly #t: PgTimeouts;
  readonly #origin = randomUUID();
  readonly #sender: pg.Pool;
  #listener: pg.Client | null = null;
  /** The connection being opened to listen, until it listens or fails: close() ends it too. */
  #opening: pg.Client | null = null;
  #pending: [ChangeTopic, number | null][] = [];
  #closed = false;
  #delayMs: number;
  #ready: Promise<void>;
  /** Errors, one per break of the connection (and one per reportEveryMs while it lasts): a database restart is not a flood of lines. */
  readonly #errors: ReturnType<typeof reportSparingly>;
  readonly #checks: NodeJS.Timeout;
  #checking = false;
  /** When (performance.now()) the listener's last proof that answered was sent; -Infinity: not current. */
  #provenAt = -Infinity;
  /** The highest credential change number this replica heard (and forgot what it changed). */
  #heard = 0;

  constructor(url: string, opts: { onError?: (err: unknown) => void; timeouts?: Partial<PgTimeouts> } = {}) {
    super();
    this.#url = url;
    const t: PgTimeouts = { ...PG_TIMEOUT_DEFAULTS, ...opts.timeouts };
    this.#t = t;
    this.#delayMs = Math.min(RECONNECT_FIRST_MS, t.feedReconnectMaxMs);
    this.#errors = reportSparingly(opts.onError ?? (() => undefined), t.reportEveryMs);
    // pg-pool's own query() gives a connection whose statement timed out back with the error: it is dropped.
    this.#sender = new pg.Pool({ connectionString: url, max: 1, ...pgConnectionOptions(t), query_timeout: t.statementTimeoutMs });
    this.#sender.on('error', (err) => this.#errors.report(err));
    // Proved four times per trust window, so one slow answer does not make the replica distrust its memory.
    this.#checks = setInterval(() => void this.#check(), Math.max(1, Math.min(t.feedCheckMs, Math.floor(t.feedTrustMs / 4)))).unref();
    this.#ready = this.#listen(false);
  }

  override publish(topic: ChangeTopic, id: number | null): void {
    super.publish(topic, id);
    this.#send(topic, id);
  }

  /** To the other replicas, with the other changes of this tick. */
  #send(topic: ChangeTopic, id: number | null): void {
    if (this.#closed) return;
    if (this.#pending.length === 0) queueMicrotask(() => void this.#flush());
    this.#pending.push([topic, id]);
  }

  override async publishConfirmed(topic: ChangeTopic, id: number | null): Promise<void> {
    super.publish(topic, id);
    if (this.#closed) return;
    const head = JSON.stringify({ o: this.#origin, c: [[topic, id]] } satisfies Wire).slice(0, -1) + ',"s":';
    let n: number | null;
    try {
      n = await sendNumbered(this.#sender, CHANNEL, head).catch(() => sendNumbered(this.#sender, CHANNEL, head));
    } catch (err) {
      if (!isMissingRegistry(err)) this.#errors.report(err);
      n = null;
    }
    // Not numbered (a database not migrated): sent as any change, without a wait.
    if (n === null) return this.#send(topic, id);
    await this.#confirmed(n);
  }

  /** Until no other listener that may use its memory has yet to hear change `n`; bounded by twice the trust window. */
  async #confirmed(n: number): Promise<void> {
    const trustMs = this.#t.feedTrustMs;
    const end = performance.now() + 2 * trustMs;
    for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, CONFIRM_POLL_MAX_MS)) {
      const left = await unconfirmed(this.#sender, this.#origin, n, trustMs).catch((err: unknown) => (this.#errors.report(err), 0));
      if (left === 0) return;
      // Replicas prove themselves or drop out of the count within trustMs: past twice that, a clock jumped.
      if (performance.now() > end) return this.#errors.report(new Error(`${left} replica(s) did not confirm credential change ${n} within ${2 * trustMs} ms`));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** This replica's id in notifications and in change_feed_listeners. */
  get origin(): string {
    return this.#origin;
  }

  override current(): boolean {
    return this.#listener !== null && performance.now() - this.#provenAt < this.#t.feedTrustMs;
  }

  override ready(): Promise<void> {
    return this.#ready;
  }

  override async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#checks);
    await this.#flush();
    const l = this.#listener;
    // One being opened is cut, so that its connect or statement fails and #listen gives up (an end() would leave
    // a connect pending for ever); one that registered just before is ended by #listen itself, which sees the
    // close. A row that registration wrote as it was cut goes unproven within feedTrustMs, and is waited on no more.
    this.#opening?.connection.stream.destroy(new Error('the change feed closed'));
    // Not waited for by others from now on; only while the database answers, and for feedCheckMs at most (the
    // pool's connect alone may wait connectTimeoutMs on a database gone silent).
    if (this.current()) await failAfter(this.#t.feedCheckMs, leave(this.#sender, this.#origin, this.#t.feedCheckMs)).catch(() => undefined);
    this.#listener = null;
    this.#provenAt = -Infinity;
    // No goodbye for the listener either: on a connection gone silent, end() waits for an answer that never comes.
    if (l !== null) discardConnection(l);
    // Bounded too: the pool's end waits for a connect under way (its own timer, connectTimeoutMs, still runs).
    await failAfter(this.#t.feedCheckMs, this.#sender.end()).catch(() => undefined);
    await super.close();
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    for (let i = 0; i < batch.length; i += PER_NOTIFY) {
      const payload: Wire = { o: this.#origin, c: batch.slice(i, i + PER_NOTIFY) };
      const send = (): Promise<unknown> => this.#sender.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(payload)]);
      try {
        // Once more on a new connection: the pooled one may have broken with the database's restart (a
        // notification twice is harmless; one lost waits for the other replicas' next poll).
        await send().catch(send);
      } catch (err) {
        // Lost for the other replicas: they see the change at their next poll.
        this.#errors.report(err);
      }
    }
  }

  /** Open the listening connection; after a break, tell subscribers to resynchronise. */
  async #listen(again: boolean): Promise<void> {
    while (!this.#closed) {
      // Opened and answering within feedCheckMs, as its checks must: one begun during a silent cut would
      // otherwise wait connectTimeoutMs (30 s) after the network came back before the next try.
      const client = new pg.Client({
        connectionString: this.#url,
        ...pgConnectionOptions(this.#t),
        connectionTimeoutMillis: Math.min(this.#t.connectTimeoutMs, this.#t.feedCheckMs),
        query_timeout: this.#t.statementTimeoutMs > 0 ? Math.min(this.#t.statementTimeoutMs, this.#t.feedCheckMs) : this.#t.feedCheckMs,
        // Which replica listens on it, in pg_stat_activity (its origin, as in change_feed_listeners).
        application_name: `gantry-feed ${this.#origin}`,
      });
      client.on('error', (err) => void (this.#closed || this.#errors.report(err)));
      this.#opening = client;
      try {
        await client.connect();
        let ended = false;
        client.on('notification', (n) => this.#received(n.payload));
        client.on('end', () => {
          ended = true;
          this.#broken(client);
        });
        await client.query(`LISTEN ${CHANNEL}`);
        if (this.#closed) return discardConnection(client);
        // Ended between LISTEN's answer and now: #broken ignored it (not the listener yet), so try again here.
        if (ended) throw new Error('the listening connection ended as it opened');
        // Heard up to the last change sent: those sent before LISTEN are forgotten by the resynchronisation below.
        const sent = performance.now();
        const heard = await this.#register(client);
        this.#opening = null; // from here, a close is seen below (or finds it the listener)
        if (ended) throw new Error('the listening connection ended as it opened');
        // Closed as it registered (its end raced the statement): no row is left to wait on, nor the connection.
        if (this.#closed) {
          await leave(client, this.#origin, this.#t.feedCheckMs).catch(() => undefined);
          return discardConnection(client);
        }
        this.#listener = client;
        this.#delayMs = Math.min(RECONNECT_FIRST_MS, this.#t.feedReconnectMaxMs);
        this.#errors.reset(); // the next break is reported at once
        if (again) this.resync();
        if (heard !== null) {
          // A numbered change that arrived while this registered went unacknowledged (no listener yet): now.
          if (this.#heard > heard) void this.#prove(client);
          this.#heard = Math.max(this.#heard, heard);
          this.#provenAt = sent;
        }
        return;
      } catch (err) {
        discardConnection(client); // no goodbye: a silent peer would never answer it
        if (this.#closed) return; // ended by close(), as it opened
        this.#errors.report(err);
        again = true;
        await new Promise((r) => setTimeout(r, this.#delayMs).unref());
        this.#delayMs = Math.min(this.#delayMs * 2, this.#t.feedReconnectMaxMs);
      } finally {
        if (this.#opening === client) this.#opening = null;
      }
    }
  }

  /** This listener's row, heard up to the last change sent; null: no registry yet (not migrated), so not current. */
  async #register(client: pg.Client): Promise<number | null> {
    return prove(client, this.#origin, null, this.#t.feedCheckMs).catch((err: unknown) => {
      if (isMissingRegistry(err)) return null;
      throw err;
    });
  }

  /** Ask the listening connection to prove itself: no answer in time, and it is given up and opened again. */
  async #check(): Promise<void> {
    const client = this.#listener;
    if (client === null || this.#checking) return;
    this.#checking = true;
    try {
      await this.#prove(client);
    } finally {
      this.#checking = false;
    }
  }

  /** Write that the listener is alive and heard up to #heard (a check, or the acknowledgement of a numbered change). */
  async #prove(client: pg.Client): Promise<void> {
    const ms = this.#t.feedCheckMs;
    const sent = performance.now();
    try {
      await prove(client, this.#origin, this.#heard, ms);
      // Sent after every notification received so far was delivered: trusted from when it was sent, not answered.
      if (this.#listener === client) this.#provenAt = Math.max(this.#provenAt, sent);
    } catch (err) {
      // It ended meanwhile, and is being replaced already; or answered, without a registry yet (still migrating).
      if (this.#listener !== client || isMissingRegistry(err)) return;
      this.#errors.report(new Error(`the listening connection failed its check (its proof, answered within ${ms} ms)`, { cause: err }));
      this.#broken(client);
      discardConnection(client);
    }
  }

  #broken(client: pg.Client): void {
    if (this.#closed || this.#listener !== client) return;
    // What this replica remembers is not used again before it listens again and forgets it (resync).
    this.#provenAt = -Infinity;
    this.#listener = null;
    this.#ready = this.#listen(true);
  }

  #received(payload: string | undefined): void {
    let wire: Wire;
    try {
      wire = JSON.parse(payload ?? '') as Wire;
    } catch {
      return; // not ours
    }
    if (wire.o === this.#origin || !Array.isArray(wire.c)) return;
    for (const entry of wire.c as readonly unknown[]) {
      const [topic, id] = Array.isArray(entry) ? (entry as unknown[]) : [];
      if (CHANGE_TOPICS.includes(topic as ChangeTopic) && (id === null || typeof id === 'number')) this.deliver({ topic: topic as ChangeTopic, id });
    }
    // A numbered change, delivered (its subscribers forgot what it changed): acknowledged to the replica that waits.
    if (typeof wire.s !== 'number') return;
    this.#heard = Math.max(this.#heard, wire.s);
    if (this.#listener !== null) void this.#prove(this.#listener);
  }
}

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CHANGE_TOPICS, LocalChangeFeed, type ChangeTopic } from '../change-feed.js';
import { discardConnection, PG_TIMEOUT_DEFAULTS, pgConnectionOptions, reportSparingly, type PgTimeouts } from './pg-retry.js';

const CHANNEL = 'gantry_changes';
/** NOTIFY payloads are limited to 8000 bytes: a batch of changes is sent in slices well below it. */
const PER_NOTIFY = 200;
/** The first wait before opening the listening connection again; it doubles up to feedReconnectMaxMs. */
const RECONNECT_FIRST_MS = 100;

type Wire = { readonly o: string; readonly c: readonly (readonly [ChangeTopic, number | null])[] };

/**
 * Changes between replicas on one PostgreSQL: `NOTIFY gantry_changes` after the write, one connection
 * per replica that LISTENs. PostgreSQL delivers a notification only after the sending transaction
 * commits and to every listening session, in commit order. This replica's own subscribers hear of a
 * change at once, without the round trip; its own notifications coming back are ignored (by origin).
 * The listening connection is opened again when it breaks; subscribers then get a resynchronisation
 * (id null on every topic), since what was sent meanwhile is lost. A connection whose peer vanished without a
 * reset (a silent network cut) never breaks by itself, and a listener only reads: every feedCheckMs it is
 * asked `SELECT 1`, and one that gives no answer within feedCheckMs is closed and opened again.
 */
export class PgChangeFeed extends LocalChangeFeed {
  readonly #url: string;
  readonly #t: PgTimeouts;
  readonly #origin = randomUUID();
  readonly #sender: pg.Pool;
  #listener: pg.Client | null = null;
  #pending: [ChangeTopic, number | null][] = [];
  #closed = false;
  #delayMs: number;
  #ready: Promise<void>;
  /** Errors, one per break of the connection (and one per reportEveryMs while it lasts): a database restart is not a flood of lines. */
  readonly #errors: ReturnType<typeof reportSparingly>;
  readonly #checks: NodeJS.Timeout;
  #checking = false;

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
    this.#checks = setInterval(() => void this.#check(), t.feedCheckMs).unref();
    this.#ready = this.#listen(false);
  }

  override publish(topic: ChangeTopic, id: number | null): void {
    super.publish(topic, id);
    if (this.#closed) return;
    if (this.#pending.length === 0) queueMicrotask(() => void this.#flush());
    this.#pending.push([topic, id]);
  }

  override ready(): Promise<void> {
    return this.#ready;
  }

  override async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#checks);
    await this.#flush();
    const l = this.#listener;
    this.#listener = null;
    await Promise.allSettled([l?.end(), this.#sender.end()]);
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
      const client = new pg.Client({ connectionString: this.#url, ...pgConnectionOptions(this.#t), query_timeout: this.#t.statementTimeoutMs });
      client.on('error', (err) => this.#errors.report(err));
      try {
        await client.connect();
        let ended = false;
        client.on('notification', (n) => this.#received(n.payload));
        client.on('end', () => {
          ended = true;
          this.#broken(client);
        });
        await client.query(`LISTEN ${CHANNEL}`);
        if (this.#closed) {
          await client.end();
          return;
        }
        // Ended between LISTEN's answer and now: #broken ignored it (not the listener yet), so try again here.
        if (ended) throw new Error('the listening connection ended as it opened');
        this.#listener = client;
        this.#delayMs = Math.min(RECONNECT_FIRST_MS, this.#t.feedReconnectMaxMs);
        this.#errors.reset(); // the next break is reported at once
        if (again) this.resync();
        return;
      } catch (err) {
        this.#errors.report(err);
        await client.end().catch(() => undefined);
        again = true;
        await new Promise((r) => setTimeout(r, this.#delayMs).unref());
        this.#delayMs = Math.min(this.#delayMs * 2, this.#t.feedReconnectMaxMs);
      }
    }
  }

  /** Ask the listening connection a question: no answer in time, and it is given up and opened again. */
  async #check(): Promise<void> {
    const client = this.#listener;
    if (client === null || this.#checking) return;
    this.#checking = true;
    const ms = this.#t.feedCheckMs;
    try {
      // query_timeout: pg's own bound, on this one statement (pg's types do not name it on a query).
      await client.query({ text: 'SELECT 1', query_timeout: ms } as pg.QueryConfig);
    } catch (err) {
      if (this.#listener !== client) return; // it ended meanwhile, and is being replaced already
      this.#errors.report(new Error(`the listening connection failed its check (SELECT 1, answered within ${ms} ms)`, { cause: err }));
      this.#broken(client);
      discardConnection(client);
    } finally {
      this.#checking = false;
    }
  }

  #broken(client: pg.Client): void {
    if (this.#closed || this.#listener !== client) return;
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
  }
}

/**
 * The stores' settings: SQLite's durability (src/store/dialects/sqlite.ts), the PostgreSQL store's bounds
 * (src/store/dialects/postgres.ts, pg-change-feed.ts) and how often a failure that lasts is logged again: part of
 * SETTINGS (schema.ts, which checks their shape), kept here so that table stays short. The store cannot read the
 * config; its own defaults (PG_TIMEOUT_DEFAULTS) equal these, which a unit test checks.
 */
export const DATABASE_SETTINGS = {
  sqliteSynchronous: {
    type: 'string',
    default: 'full',
    doc: 'SQLite: `full` writes every commit through to the disk before it answers (a committed change survives a power cut or a crash of the machine); `normal` does so at checkpoints only (a commit survives a crash of Gantry, not of the machine), about ten times cheaper per write. The test run uses `normal`.',
  },
  databaseConnectTimeoutMs: {
    type: 'duration',
    min: 1,
    default: 30_000,
    doc: 'PostgreSQL: longest wait for a connection (a new one opening, or one of the pool coming free); past it the call answers 503 DATABASE_UNAVAILABLE. Long enough that a busy pool under load is only slow.',
  },
  databaseStatementTimeoutMs: {
    type: 'duration',
    default: 60_000,
    doc: 'PostgreSQL: longest wait for the answer to one statement. Kept by Gantry, not the server, so it also ends the wait when the database host went silent (a network cut): the connection is closed and the call answers 503 DATABASE_UNAVAILABLE. Schema migrations are exempt. 0: no bound.',
  },
  databaseKeepAliveMs: {
    type: 'duration',
    min: 1_000,
    default: 10_000,
    doc: 'PostgreSQL: idle time (whole seconds) after which TCP keepalive probes check a connection, so the operating system notices a database host that vanished without a reset even while no statement runs.',
  },
  changeFeedCheckMs: {
    type: 'duration',
    min: 1,
    default: 10_000,
    doc: "PostgreSQL: how often the change feed's listening connection is asked `SELECT 1`; one that gives no answer within this is closed and opened again (subscribers resynchronise), so a silent network cut cannot stop notifications between replicas unnoticed. Each try to open it must connect and listen within this too.",
  },
  changeFeedReconnectMaxMs: {
    type: 'duration',
    min: 1,
    default: 5_000,
    doc: "PostgreSQL: longest wait between two tries to open the change feed's listening connection again (the wait doubles from 100 ms).",
  },
  changeFeedTrustMs: {
    type: 'duration',
    min: 4,
    default: 2_000,
    doc: "PostgreSQL: how long a replica keeps using the keys it remembers after its change feed's listening connection last proved itself (it writes that it is alive four times within this); past it, or while that connection is lost, keys are read from the database. A key revoked or a role changed at one replica is answered once every other replica confirmed it forgot the account's keys, waiting at most this long for one that does not (docs/decisions/014-principal-cache.md).",
  },
  failureLogRepeatMs: {
    type: 'duration',
    min: 1,
    default: 60_000,
    doc: "How often a failure that goes on (the database gone) is logged again, with how many times it failed meanwhile: the loops', and the database pool's and change feed's lost connections.",
  },
} as const;

import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Agent } from '../agent/agent.js';
import { InProcessChannel } from '../agent/channel.js';
import { buildApp } from '../api/app.js';
import type { MetricsAccess } from '../api/edge/metrics-access.js';
import { limitConnections } from '../api/edge/connections.js';
import { defaultFamilyRates, parseRates } from '../api/rate-limit/families.js';
import type { ApiDialect } from '../api/edge/dialect.js';
import { DIALECTS } from './dialects.js';
import { LocalLimiter, SharedLimiter } from '../api/rate-limit/limiter.js';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../control/clock.js';
import { ControlPlane } from '../control/control-plane.js';
import { MachineCatalog } from '../control/fleet/machine-catalog.js';
import { routingView } from '../control/serverless/routing.js';
import { HostRegistry } from '../control/hosts/hosts.js';
import { hashKey, newApiKey, newSecret } from '../control/keys.js';
import { newKeyLine, parseKeyFile, Vault } from '../control/accounts/vault.js';
import { createLogger } from '../log/logger.js';
import { Metrics } from '../log/metrics.js';
import { Gateway } from '../gateway/gateway.js';
import { RouteKeys } from '../gateway/route-keys.js';
import { Traffic } from '../gateway/traffic.js';
import type { Runtime } from '../runtime/runtime.js';
import { newHostToken, ensureHostToken } from '../control/hosts/host-tokens.js';
import { readOrCreate, writeDurably } from '../runtime/files.js';
import { startHost } from './host.js';
import { checkSandboxUidBase } from './runtime.js';
import { DataDirLock } from './data-dir-lock.js';
import { GantryError, isGantryError } from '../domain/errors.js';
import { upgradeStoredData } from './upgrade.js';
import { postgresDialect } from '../store/dialects/postgres.js';
import { errorReason, isConnectionError } from '../store/dialects/pg-retry.js';
import { sqliteDialect } from '../store/dialects/sqlite.js';
import { KyselyStore } from '../store/kysely/kysely-store.js';
import { FsBlobStore } from '../store/blobs/fs-blob-store.js';
import type { Store } from '../store/store.js';

export interface UpOptions {
  readonly config: Config;
  /** Environment every workload starts from (PATH and the like). */
  readonly workloadEnv: Readonly<Record<string, string>>;
  /** Run the embedded host (false: control plane only, `gantry server`). */
  readonly localHost: boolean;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Dialects served besides src/main/dialects.ts's (tests mount one of their own). */
  readonly dialects?: readonly ApiDialect[];
}

export interface RunningGantry {
  readonly url: string;
  /** The admin key when it is known to this process (created now, preset, or read from admin.key). */
  readonly adminKey: string | null;
  readonly adminKeyFile: string;
  /** Whether this start created the admin key (the first start): the only time it is shown in full. */
  readonly adminKeyCreated: boolean;
  /** Where the admin key is: created now (and written to adminKeyFile), in adminKeyFile, preset (setting adminKey), or none of these (another data dir made this database's admin). */
  readonly adminKeySource: 'created' | 'file' | 'revoked' | 'preset' | 'none';
  readonly control: ControlPlane;
  readonly gateway: Gateway;
  readonly store: Store;
  readonly app: FastifyInstance;
  readonly agent: Agent | null;
  readonly runtime: Runtime | null;
  /** Stop serving and the loops; workloads keep running and are re-adopted on the next start. */
  close(): Promise<void>;
}

function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve()));
  });
}

/** Why the server cannot listen, as a sentence: most often, another Gantry already listens there. */
function portInUse(c: Config): (err: unknown) => never {
  return (err) => {
    const code = (err as NodeJS.ErrnoException).code;
    const h = c.host === '0.0.0.0' || c.host === '::' ? '127.0.0.1' : c.host.includes(':') ? `[${c.host}]` : c.host;
    if (code === 'EADDRINUSE') {
      throw new GantryError('SERVER_RUNNING', `port ${c.port} is in use — is Gantry already running at http://${h}:${c.port}? (Or choose another --port.)`, {
        port: c.port,
      });
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL') {
      const why = code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : 'is not an address or a name this machine resolves';
      throw new GantryError('INVALID_ARGUMENT', `--host ${c.host} ${why}; give one of its own (127.0.0.1, 0.0.0.0 for every interface).`, { field: 'host' });
    }
    if (code === 'EACCES') {
      throw new GantryError('INVALID_ARGUMENT', `port ${c.port} needs privileges this process lacks (ports below 1024); choose another --port.`, {
        field: 'port',
      });
    }
    throw err;
  };
}

/** The only place that picks adapters: store dialect, runtime, HTTP app. */
export function openStore(config: Config, log?: Logger): KyselyStore {
  const d =
    config.database !== null && /^postgres(ql)?:\/\//.test(config.database)
      ? postgresDialect(config.database, {
          onConnectionError: (err) => log?.warn({ err }, 'database connection lost; the next statement opens another'),
          timeouts: {
            connectTimeoutMs: config.databaseConnectTimeoutMs,
            statementTimeoutMs: config.databaseStatementTimeoutMs,
            keepAliveMs: config.databaseKeepAliveMs,
            feedCheckMs: config.changeFeedCheckMs,
            feedReconnectMaxMs: config.changeFeedReconnectMaxMs,
            feedTrustMs: config.changeFeedTrustMs,
            reportEveryMs: config.failureLogRepeatMs,
          },
        })
      : sqliteDialect(config.database ?? join(config.dataDir, 'gantry.db'), { synchronous: config.sqliteSynchronous === 'normal' ? 'normal' : 'full' });
  return new KyselyStore(d, {
    machineOnlineWindowMs: config.machineOfflineMs,
    // Other replicas then see this one's changes at their next poll: worth a warning, not a stop.
    onFeedError: (err) => log?.warn({ err }, 'change notifications between replicas interrupted'),
  });
}

/**
 * The first statement failed: the database is not there (stopped, wrong host or port) or refuses this URL's
 * user, password or database. Said as one sentence that names the URL (password masked), not a driver's error.
 */
function cannotOpenDatabase(c: Config, err: unknown): unknown {
  if (c.database === null || !/^postgres(ql)?:\/\//.test(c.database) || (err instanceof GantryError && err.code !== 'DATABASE_UNAVAILABLE')) return err;
  // Only what says the database is not there or refuses this URL (authentication, no such database): a failed migration is itself.
  const code = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof GantryError) && !(typeof code === 'string' && /^(28...|3D000)$/.test(code))) return err;
  const reason = errorReason(err instanceof Error && err.cause !== undefined ? err.cause : err);
  const url = c.database.replace(/\/\/[^@]*@/, '//***@');
  const text = `cannot open the database ${url} (${reason}); check that PostgreSQL runs there and that --database (GANTRY_DATABASE) names the right host, port, user, password and database.`;
  return isConnectionError(err instanceof Error ? (err.cause ?? err) : err)
    ? new GantryError('DATABASE_UNAVAILABLE', text, {}, { cause: err })
    : new Error(text, { cause: err });
}

/** The folder of a SQLite database given by path outside the data dir; null for the default one, or PostgreSQL. */
function sqliteFolderOutside(c: Config): string | null {
  if (c.database === null || /^postgres(ql)?:\/\//.test(c.database) || c.database === ':memory:') return null;
  const folder = dirname(resolve(c.database));
  return folder === resolve(c.dataDir) ? null : folder;
}

export async function startGantry(o: UpOptions): Promise<RunningGantry> {
  const c = o.config;
  const log = o.log ?? createLogger(c.logLevel);
  // The claim itself waits for the sandbox probe, after the admin account is made: a base taken is refused now.
  if (o.localHost) await checkSandboxUidBase(c);
  const made = await mkdir(c.dataDir, { recursive: true, mode: 0o700 });
  await chmod(c.dataDir, 0o700); // keys, database and instance disks: the owner's only, whatever the umask was
  // Before the database: a second server must not share the data dir, nor a SQLite file kept elsewhere.
  const lock = DataDirLock.acquireWithDatabase(c.dataDir, sqliteFolderOutside(c));
  // What a start that fails part way opened is closed again: a library caller (a test, the bench) goes on
  // living, and an open database connection, a heartbeating agent or the data dir's lock would outlive it.
  const opened: Opened = {};
  try {
    return await startLocked(o, log, lock, opened);
  } catch (err) {
    try {
      await opened.agent?.stop().catch(() => undefined);
      opened.control?.agents.close(); // its parked poll
      await opened.gateway?.close().catch(() => undefined);
      await opened.app?.close().catch(() => undefined);
      await opened.store?.close().catch(() => undefined);
      await opened.runtime?.close().catch(() => undefined);
    } finally {
      lock.releaseSync();
      // A first start refused (its port taken) leaves no empty data dir behind, nor the folders made above it;
      // rmdir removes only an empty folder, never anything written.
      if (made !== undefined) await removeEmptyUpTo(resolve(c.dataDir), resolve(made));
    }
    throw err;
  }
}

/** Remove `dir` and its parents up to `top`, each only while it is empty. */
async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let at = dir; ; at = dirname(at)) {
    const removed = await rmdir(at).then(
      () => true,
      () => false,
    );
    if (!removed || at === top || dirname(at) === at) return;
  }
}

/** What a start opened so far, to be closed if it fails. */
interface Opened {
  store?: KyselyStore;
  control?: ControlPlane;
  gateway?: Gateway;
  agent?: Agent;
  runtime?: Runtime;
  app?: FastifyInstance;
}

async function startLocked(o: UpOptions, log: Logger, lock: DataDirLock, opened: Opened): Promise<RunningGantry> {
  const c = o.config;
  // A port taken already fails now, not after a first start created an admin key nobody was shown.
  await probePort(c.host, c.port).catch(portInUse(c));
  const secret = c.secret ?? (await readOrCreate(join(c.dataDir, 'server.secret'), newSecret));
  const vault = new Vault(parseKeyFile(await readOrCreate(c.secretsKeyFile ?? join(c.dataDir, 'secrets.keys'), () => newKeyLine(Date.now()))));
  const store = (opened.store = openStore(c, log));
  await store.migrate().catch((err: unknown) => {
    throw cannotOpenDatabase(c, err);
  });
  await upgradeStoredData(store, log);
  let url = c.publicUrl ?? `http://${c.host}:${c.port}`;
  const metrics = new Metrics();
  const clock = o.clock ?? systemClock;
  // The gateway reads routing views from the store and the machine list, which the control plane shares.
  const machines = new MachineCatalog(store, clock, c.machineCacheMs);
  const replica = `gw-${randomUUID()}`;
  // Set once the API listens: workers can report from then on (workers.ts counts their silence from it).
  let listeningSince = Infinity;
  const servingSince = (): number => listeningSince;
  // Each worker's signature is made as its view is read, with the key that worker checks (route-keys.ts).
  const routeKeys = new RouteKeys(store);
  const traffic = new Traffic({
    directory: async (id) =>
      routeKeys.signed(await routingView({ store, machines, clock, settings: c, servingSince: (): number => control.ctx.servingSince() }, id)),
    touch: (id, at) => store.touchEndpoint(id, at),
    now: () => clock.now(),
    directoryMs: c.workerDirectoryMs,
    queueTimeoutMs: c.serverlessQueueTimeoutMs,
    shared: {
      replica,
      publish: (id, n, now) => store.putGatewayPending(replica, id, n, now),
      elsewhere: (id, since) => store.gatewayPendingElsewhere(id, replica, since),
      counted: (id, answered, failed, rejected) => store.countStopRequests(id, answered, failed, rejected),
      heard: (id) => store.changes.publish('gateway', id),
      settled: (id, liveSince, since) => store.gatewaysPublishedSince(id, liveSince, since),
    },
    // A held request asks this replica's serverless loop for a pass now (scale from zero, start an inactive worker).
    // (An endpoint scaled to zero may rest: that pass's tick ends the rest first, serverless-loop.ts.)
    demand: () => control.ctx.endpointSignal.passDue(),
  });
  const blobs = new FsBlobStore(c.codeBlobDir ?? join(c.dataDir, 'blobs'));
  const control = (opened.control = new ControlPlane({
    store,
    clock,
    machines,
    hosts: new HostRegistry(),
    log,
    metrics,
    secret,
    settings: c,
    apiUrl: () => url,
    traffic,
    vault,
    blobs,
    servingSince,
  }));
  const gateway = (opened.gateway = new Gateway({
    useCases: control.serverless,
    traffic,
    keys: routeKeys,
    metrics,
    requestTimeoutMs: c.serverlessRequestTimeoutMs,
    resolveCacheMs: c.principalCacheMaxAgeMs,
    current: () => store.changes.current(),
  }));
  // Stops and starts written at any replica reach this gateway at once, not at its next look at the store.
  const unheard = store.changes.subscribe('endpoint', (ch) => {
    gateway.forget();
    void traffic.heard(ch.id).catch((err: unknown) => log.warn({ err }, 'gateway: endpoint change'));
  });
  // A revoked or narrowed key, at any replica, is refused by this gateway from its next request on.
  const unkeyed = store.changes.subscribe('credential', () => gateway.forget());
  // A worker of the endpoint became ready (or not), at any replica: requests held here go to it at once.
  const unready = store.changes.subscribe('gateway', (ch) => ch.id !== null && traffic.invalidate(ch.id));

  const adminKeyFile = join(c.dataDir, 'admin.key');
  // A new admin key is in its file before the database names it (bootstrap-admin.ts); a start cut before the
  // database did leaves a file whose key the next start makes the admin's.
  let made = false;
  // A key a cut start left in the file is not shown as created now: the banner points at the file.
  let fromFile = false;
  const boot = await control.bootstrapAdmin(c.adminKey, async () => {
    made = true;
    const left = (await readFile(adminKeyFile, 'utf8').catch(() => '')).trim();
    fromFile = left !== '';
    if (fromFile) return left;
    const key = newApiKey();
    await writeDurably(adminKeyFile, key + '\n');
    return key;
  });
  const { accountId } = boot;
  const createdKey = fromFile ? null : boot.createdKey;
  if (createdKey !== null && c.adminKey !== null) await writeDurably(adminKeyFile, createdKey + '\n');
  // Another replica's first start made the admin meanwhile (one PostgreSQL): the file's key names no account.
  if (made && boot.createdKey === null) await rm(adminKeyFile, { force: true });
  const inFile = (await readFile(adminKeyFile, 'utf8').catch(() => '')).trim() || null;
  const adminKey = createdKey ?? c.adminKey ?? inFile;
  // A key file whose key was revoked through the API (say, the caller's own key) is no way in: the banner says so.
  const revoked = inFile !== null && createdKey === null && (await store.findApiKeyByHash(hashKey(inFile))) === undefined;
  const adminKeySource =
    createdKey !== null
      ? 'created'
      : revoked && c.adminKey === null
        ? 'revoked'
        : inFile !== null && !revoked
          ? 'file'
          : c.adminKey !== null
            ? 'preset'
            : 'none';

  let runtime: Runtime | null = null;
  let agent: Agent | null = null;
  if (o.localHost) {
    // The embedded host is an agent like any other, minus the wire: same hello, heartbeats and commands.
    const token = await readOrCreate(join(c.dataDir, 'host.token'), newHostToken);
    await ensureHostToken(control.ctx, accountId, token);
    try {
      const host = await startHost(c, new InProcessChannel(control.agents, token), { log, workloadEnv: o.workloadEnv });
      runtime = opened.runtime = host.runtime;
      agent = opened.agent = host.agent;
    } catch (err) {
      // The owner deleted this host's machine (delete machine): the control plane still serves, without it.
      if (!isGantryError(err) || err.code !== 'MACHINE_DELETED') throw err;
      log.warn({ reason: err.message }, `embedded host left out; to add it again as a new machine, remove ${join(c.dataDir, 'host.token')}`);
    }
  }

  // One replica (SQLite) keeps buckets in memory; replicas on PostgreSQL share them through the store.
  const limiter = store.name === 'postgres' ? new SharedLimiter((...a) => store.takeRateTokens(...a)) : new LocalLimiter();
  const familyRates = new Map([...defaultFamilyRates(c.rateLimit), ...parseRates(c.rateLimits)]);
  const rateLimit =
    c.rateLimit > 0 || [...familyRates.values()].some((r) => r > 0)
      ? { limiter, defaultRate: c.rateLimit, familyRates, now: () => clock.now(), ipv6ClientPrefixBits: c.ipv6ClientPrefixBits }
      : null;
  const app = (opened.app = await buildApp({
    control,
    gateway,
    log,
    metrics,
    publicUrl: c.publicUrl,
    rateLimit,
    dialects: [...DIALECTS, ...(o.dialects ?? [])],
    metricsAccess: c.metricsAccess as MetricsAccess,
    wirePath: c.proxyWirePath,
  }));
  // A body proxied to a serverless worker streams only once a worker is free: its request is received after the queue wait.
  const requestTimeoutMs = c.requestTimeoutMs > 0 ? c.requestTimeoutMs + c.serverlessQueueTimeoutMs : 0;
  limitConnections(app.server, { ...c, requestTimeoutMs });
  await app.listen({ host: c.host, port: c.port }).catch(portInUse(c));
  listeningSince = clock.now();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : c.port;
  const host = c.host.includes(':') ? `[${c.host}]` : c.host === '0.0.0.0' ? '127.0.0.1' : c.host;
  url = c.publicUrl ?? `http://${host}:${port}`;
  lock.setUrl(url);
  control.startLoops();
  log.info({ url, store: store.name, runtime: runtime?.name ?? null }, 'gantry is up');

  let closed = false;
  return {
    url,
    adminKey,
    adminKeyFile,
    adminKeyCreated: createdKey !== null,
    adminKeySource,
    control,
    gateway,
    store,
    app,
    agent,
    runtime,
    async close() {
      if (closed) return;
      closed = true;
      await agent?.stop();
      control.agents.close(); // parked agent polls return before the server waits for open requests
      unheard();
      unready();
      unkeyed();
      await gateway.close();
      await app.close();
      await control.stopLoops();
      await store.close();
      await runtime?.close();
      lock.releaseSync();
    },
  };
}

import { CATALOG_SETTINGS } from './catalog-settings.js';
import { DATABASE_SETTINGS } from './database-settings.js';
import { ENGINE_SETTINGS } from './engine-settings.js';
import { ML_SETTINGS } from './ml-settings.js';
import { SANDBOX_SETTINGS } from './sandbox-settings.js';
import { SERVERLESS_SETTINGS } from './serverless-settings.js';
import { SWEEP_SETTINGS } from './sweep-settings.js';

/**
 * Every setting of Gantry: default, unit (in the name) and why. Durations are given as
 * numbers of ms or as strings such as '10s', '500ms', '2m' and compiled to ms on load.
 * docs/config.md is checked against this table by a test.
 */
export type SettingType = 'string' | 'optional-string' | 'integer' | 'number' | 'duration' | 'boolean';

export interface Setting {
  readonly type: SettingType;
  readonly default: string | number | boolean | null;
  /** Command-line flag, if the setting has one. */
  readonly flag?: string;
  /** Bounds of a number, integer or duration (a count of 0 or a loop period of 0 ms would never let a loop rest). */
  readonly min?: number;
  readonly max?: number;
  readonly doc: string;
}

export const SETTINGS = {
  dataDir: {
    type: 'string',
    default: '',
    flag: '--data-dir',
    doc: 'Where state lives (database, instance disks, keys). Default: $XDG_DATA_HOME/gantry or ~/.local/share/gantry.',
  },
  host: {
    type: 'string',
    default: '127.0.0.1',
    flag: '--host',
    doc: 'Address the HTTP API listens on (an address: a name such as localhost binds only the first address it resolves to).',
  },
  port: { type: 'integer', min: 0, max: 65535, default: 7070, flag: '--port', doc: 'Port the HTTP API listens on (0 picks a free one).' },
  publicUrl: {
    type: 'optional-string',
    default: null,
    flag: '--public-url',
    doc: "Base URL clients and workers use to reach the API (result URLs; workers' REPORT_ADDR, VAST_API_URL and GANTRY_URL, else this replica's own http://host:port). With several replicas, name a load balancer reaching every replica: a worker reports to its address only. Default: taken from each request.",
  },
  database: {
    type: 'optional-string',
    default: null,
    flag: '--database',
    doc: 'postgres://... to use PostgreSQL, or the path of a SQLite file; default: SQLite at <dataDir>/gantry.db. A URL of another database, or a file: or sqlite: URL, is refused.',
  },
  ...DATABASE_SETTINGS,
  adminKey: { type: 'optional-string', default: null, doc: 'API key of the first admin account, for automation (GANTRY_ADMIN_KEY); default: a random key.' },
  secret: {
    type: 'optional-string',
    default: null,
    doc: 'Server secret that derives per-instance keys (GANTRY_SECRET); default: generated once into <dataDir>/server.secret. Replicas on one database must share it.',
  },
  secretsKeyFile: {
    type: 'optional-string',
    default: null,
    doc: 'File holding the keys that seal account secrets (AES-256-GCM), newest first; default: <dataDir>/secrets.keys, created once. Keep it outside the database and give every replica the same file (docs/operations.md).',
  },
  gpus: {
    type: 'optional-string',
    default: null,
    flag: '--gpus',
    doc: 'Declare GPUs for development, e.g. "2x RTX 4090:24GB"; offers then carry gpu_declared: true. Default: detect with nvidia-smi.',
  },
  publicIp: { type: 'string', default: '127.0.0.1', flag: '--public-ip', doc: "Address shown as instances' public_ipaddr and ssh_host." },
  portRangeStart: { type: 'integer', min: 1, max: 65535, default: 41000, flag: '--port-range', doc: 'First host port handed to instances.' },
  portRangeEnd: { type: 'integer', min: 1, max: 65535, default: 41999, flag: '--port-range', doc: 'Last host port handed to instances.' },
  priceGpuPerHour: { type: 'number', default: 0.2, doc: '$/hour per GPU of the local host (per CPU instance on a host without GPUs).' },
  priceDiskPerGbMonth: { type: 'number', default: 0.1, doc: '$/GB/month of instance disk on the local host.' },
  logLevel: { type: 'string', default: 'info', flag: '--log-level', doc: 'pino log level (trace, debug, info, warn, error, silent).' },
  parentWatchMs: {
    type: 'duration',
    min: 1,
    default: 1_000,
    doc: 'Started by `npx`/`npm exec`: how often `gantry up`, `gantry server` and `gantry agent` check that npm still runs; they stop when npm is gone (npm does not pass SIGTERM on), never left orphaned.',
  },
  stopGraceMs: { type: 'duration', default: 10_000, doc: 'Stop: time between SIGTERM to the process group and SIGKILL.' },
  killWaitMs: { type: 'duration', default: 5_000, doc: 'Stop: time allowed after SIGKILL before the stop is recorded as failed.' },
  stepTimeoutMs: {
    type: 'duration',
    default: 120_000,
    doc: 'Bound on one runtime step (start, stop, destroy): a step the agent took and did not finish is recorded as failed (STEP_TIMEOUT); an agent that went away is retried. Keep it above the liveness window (2 × agentPollWaitMs + 2 s).',
  },
  observeIntervalMs: {
    type: 'duration',
    default: 1_000,
    doc: "How often each host's workloads are compared with its instances (the host sweep: one list per host), and unsettled instances are looked at again.",
  },
  observationMaxAgeMs: {
    type: 'duration',
    default: 5_000,
    doc: "How old a host sweep's observation of a workload may be for the reconciler to record it without an inspect of its own (0: always inspect).",
  },
  ...SWEEP_SETTINGS,
  reconcileIdleMs: { type: 'duration', min: 1, default: 250, doc: 'Reconciler sleep when a fetch found no work (woken earlier by API writes).' },
  reconcileBatch: { type: 'integer', min: 1, default: 50, doc: 'Instances fetched per reconciler pass.' },
  reconcileRetryMaxMs: {
    type: 'duration',
    min: 1,
    default: 10_000,
    doc: "Longest wait before an instance whose last looks failed (its host's runtime erred: a container engine that is down) is tried again; the wait doubles from 250 ms up to this.",
  },
  reconcileConcurrency: { type: 'integer', min: 1, default: 8, doc: 'Instances worked on in parallel by one replica.' },
  leaseMs: {
    type: 'duration',
    min: 1,
    default: 15_000,
    doc: "Lease on an instance row while a replica works on it; a dead replica's rows are picked up after this.",
  },
  sweepIntervalMs: {
    type: 'duration',
    min: 1,
    default: 10_000,
    doc: 'Housekeeping: instances of silent hosts marked unknown, expired results removed (orphan workloads are removed by the host sweep).',
  },
  heartbeatIntervalMs: { type: 'duration', min: 1, default: 10_000, doc: 'How often a host reports that it is alive.' },
  machineOfflineMs: { type: 'duration', default: 60_000, doc: 'A host silent this long is offline and its offers vanish.' },
  machineCacheMs: {
    type: 'duration',
    default: 1_000,
    doc: "How long one replica reuses the machine list (instance and volume views, routing), and how often the offers index reads which hosts sent a heartbeat; another replica's heartbeats show in searches within this time.",
  },
  offersIndexRebuildMs: {
    type: 'duration',
    default: 60_000,
    doc: 'Safety net of the offers index, which follows machine and rental changes as they are published: every this often it reads the whole fleet again and applies what differs.',
  },
  agentPollWaitMs: { type: 'duration', min: 1, default: 20_000, doc: "Longest time an agent's poll for commands is held open when there is nothing to do." },
  agentMessageRate: {
    type: 'number',
    min: 0,
    default: 50,
    doc: 'Agent protocol messages per second one host token may send to one replica (bursts of twice that pass; under 1 counts as 1); over it, 429 RATE_LIMITED with Retry-After, which the agent waits out, losing nothing. Hellos refused for their token (not valid) draw from a bucket of the same size per client address instead. The embedded host is not limited. 0: unlimited.',
  },
  agentCallTimeoutMs: {
    type: 'duration',
    default: 15_000,
    doc: 'Bound on an agent answering inspect, list or logs; start, stop and destroy are bounded by stepTimeoutMs.',
  },
  agentReadTimeoutMs: {
    type: 'duration',
    min: 1_000,
    default: 60_000,
    doc: "Agent: a read of its host for a heartbeat (the workloads, an instance's usage) not answered within this is asked again; an engine that lost a request holds back only that read, and only this long (heartbeats go on without it meanwhile). Also the container engine's bound for its first answer at start (the agent's start fails, saying so), for answering its events' subscription (asked again), and for the answer and each further piece of a log read (the read fails).",
  },
  agentStopWaitMs: {
    type: 'duration',
    default: 30_000,
    doc: 'Agent: at shutdown, how long to wait for the commands under way (an image pull, a stop in its grace) before exiting without them; workloads keep running, and the control plane asks again for what was not reported.',
  },
  gpuReadTimeoutMs: {
    type: 'duration',
    min: 1_000,
    default: 10_000,
    doc: "Agent: bound on one nvidia-smi call (the host's GPUs at start, their utilisation for heartbeats); one past it is killed.",
  },
  agentRequestTimeoutMs: {
    type: 'duration',
    min: 1_000,
    default: 30_000,
    doc: 'Agent (gantry agent): bound on one request to the control plane (hello, heartbeat, results; a poll gets agentPollWaitMs more); one past it is given up and sent again, as after a network error.',
  },
  imagePullStallMs: {
    type: 'duration',
    min: 1_000,
    default: 900_000,
    doc: "Docker runtime: an image pull that reports no progress for this long is given up, and the instance's start fails with that reason (a registry that stopped sending would hold every later start of the instance). Podman reports nothing while it unpacks the layers after the last download: keep it above that on large images and slow disks.",
  },
  server: { type: 'optional-string', default: null, flag: '--server', doc: 'Agent: URL of the control plane to join (gantry agent).' },
  token: { type: 'optional-string', default: null, flag: '--token', doc: 'Agent: host token from `gantry create host-token` (GANTRY_TOKEN).' },
  runtime: {
    type: 'string',
    default: 'auto',
    flag: '--runtime',
    doc: 'How the host runs workloads: docker (Docker Engine API, also Podman), process (process groups), or auto (docker when an engine answers).',
  },
  ...SANDBOX_SETTINGS,
  templateParseTimeoutMs: {
    type: 'duration',
    min: 1,
    default: 10_000,
    doc: 'Bound on reading one upload or sync of AI Core serving templates (parsed on a thread of its own).',
  },
  ...ENGINE_SETTINGS,
  ...SERVERLESS_SETTINGS,
  ...ML_SETTINGS,
  ...CATALOG_SETTINGS,
  billingIntervalMs: {
    type: 'duration',
    min: 1,
    default: 5_000,
    doc: 'How often open meters are settled into charges and balances checked; charges are exact to the transition either way, this only sets how current the balance is.',
  },
  billingRestFactor: {
    type: 'number',
    default: 2,
    doc: "After a billing pass, the loop rests at least this many times as long as the pass took before the next one (on top of billingIntervalMs' ticks). This bounds billing's share of a core on a large fleet: a pass of 18 s over 200,000 meters then runs about once a minute, and balances are that current. 0: back to back.",
  },
  accessTokenTtlMs: {
    type: 'duration',
    default: 43_200_000,
    doc: "Lifetime of an access token from /oauth/token (AI Core's client credentials; 12 h as SAP's); a token of a revoked key stops working at once regardless.",
  },
  rateLimit: {
    type: 'number',
    default: 20,
    flag: '--rate-limit',
    doc: 'Requests per second per API key and endpoint family (bursts of twice that pass); the route family (/route/) gets ten times this unless rateLimits sets it. 0 disables rate limiting.',
  },
  rateLimits: {
    type: 'optional-string',
    default: null,
    doc: 'Per-family rates overriding rateLimit, e.g. "search=5,instances=50,billing=2" (families in docs/operations.md); 0 disables a family.',
  },
  headersTimeoutMs: {
    type: 'duration',
    default: 30_000,
    doc: "Most time a client may take to send a request's headers (from its first byte); slower ones are answered 408 and disconnected. 0: unbounded.",
  },
  requestTimeoutMs: {
    type: 'duration',
    default: 120_000,
    doc: 'Most time a client may take to send a whole request, headers and body, plus serverlessQueueTimeoutMs (a body proxied to a serverless worker is read only once a worker is free); slower ones are answered 408 and disconnected. The answer afterwards (long polls, wait_for) is not bounded by it. 0: unbounded.',
  },
  proxyWirePath: {
    type: 'boolean',
    default: true,
    doc: "Serve plain HTTP/1.1 requests to /endpoints/ on the proxy's wire path (raw sockets on both sides, docs/decisions/024-wire-data-path.md). false: every request goes through Node's HTTP server.",
  },
  maxConnectionsPerAddress: {
    type: 'integer',
    default: 256,
    doc: 'Most HTTP connections open at once from one client address; more are closed on arrival. 0: unbounded.',
  },
  ipv6ClientPrefixBits: {
    type: 'integer',
    min: 16,
    max: 128,
    default: 64,
    doc: "How an IPv6 client is counted by the per-client bounds (maxConnectionsPerAddress, the rate limits of requests without a proven key, agents' refused hellos): by this many leading bits of its address. 64, the block one site or host is usually given: one host cannot take a fresh bound per address; but the hosts of one IPv6 subnet (a cloud VPC's) share one, so set 128 to count each address when many callers share a /64.",
  },
  maxConnections: {
    type: 'integer',
    default: 10_000,
    doc: "Most HTTP connections open at once in all (one address is bound by maxConnectionsPerAddress, but many addresses are cheap); more are closed on arrival. Never more than two fifths of the process's open-file limit (ulimit -n), read at start: a proxied request holds a second connection, to its worker. 0: unbounded.",
  },
  gitTimeoutMs: {
    type: 'duration',
    min: 1_000,
    default: 30_000,
    doc: "Bound on one git call reading an AI Core application's repository (a folder on the server); past it the sync fails with REPOSITORY_UNREADABLE.",
  },
  resultTtlMs: { type: 'duration', default: 600_000, doc: 'Lifetime of log download URLs.' },
  maxResultsPerAccount: {
    type: 'integer',
    default: 64,
    doc: "Most result URLs (logs, execute output; up to a megabyte each) one account keeps alive; a new one ends the account's oldest. 0: no bound.",
  },
  metricsAccess: {
    type: 'string',
    default: 'loopback',
    doc: 'Who may read GET /metrics: loopback (callers on this machine that ask for it by a loopback name or address, such as localhost or 127.0.0.1, or any caller with an admin API key as Bearer), key (an admin API key always) or open (anyone).',
  },
  maxRequestCost: {
    type: 'number',
    default: 1e9,
    doc: "Largest cost one serverless request may declare (/route/'s cost, the proxy's X-Gantry-Cost); a cost that is not a finite number from 0 to this is a 400.",
  },
  maxJsonDepth: {
    type: 'integer',
    min: 1,
    default: 64,
    doc: 'Deepest nesting of arrays and objects accepted in a JSON request body or JSON query parameter; deeper is a 400 (deep values would exhaust the stack).',
  },
  maxHostTokensPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most live host tokens (each machine holds its own) an account other than an admin may hold; creating one more is HOST_TOKEN_LIMIT. 0: no bound.',
  },
  maxSubaccountsPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most subaccounts and teams an account other than an admin may hold under its top-level account, at any depth (each has limits of its own: a bound on the tree bounds every per-account one); creating one more is ACCOUNT_LIMIT. 0: no bound.',
  },
  maxSshKeysPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most SSH keys one account may hold (each change writes them all into each of its instances); adding one more is SSH_KEY_LIMIT. 0: no bound.',
  },
  maxEndpointsPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most endpoints one account other than an admin may hold, deployments of every API included (each has a pass of the serverless loop, a traffic record at every gateway and its workers); creating one more is ENDPOINT_LIMIT. One being deleted counts until it is gone (its workers are being destroyed). 0: no bound.',
  },
  maxWorkergroupsPerEndpoint: {
    type: 'integer',
    default: 20,
    doc: "Most workergroups one endpoint of an account other than an admin may hold (each is planned and recruited for in every pass of the endpoint's serverless loop); creating one more, or moving one there, is WORKERGROUP_LIMIT. A deployment's change of configuration adds one beside the serving one until it completes. 0: no bound.",
  },
  maxWorkergroupsPerAccount: {
    type: 'integer',
    default: 300,
    doc: 'Most workergroups one account other than an admin may hold over all its endpoints, those of deployments of every API included (each has one, two during a change of configuration); creating one more is WORKERGROUP_LIMIT. Those of an endpoint being deleted count until it is gone (its workers are being destroyed). 0: no bound.',
  },
  maxTemplatesPerAccount: {
    type: 'integer',
    default: 500,
    doc: "Most templates one account other than an admin may hold (its public ones are listed in every account's template search); creating one more is TEMPLATE_LIMIT. A deleted one frees its place at once. 0: no bound.",
  },
  maxApiKeysPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most live API keys (service keys included) one account may hold; creating one more is API_KEY_LIMIT. 0: no bound.',
  },
  principalCacheEntries: {
    type: 'integer',
    default: 10_000,
    doc: 'Most credentials one replica remembers after authenticating them (least recently used go first), so a known key costs no database read; a revoked key or changed role is forgotten at once on every replica (docs/decisions/014-principal-cache.md). 0: read every time.',
  },
  principalCacheMaxAgeMs: {
    type: 'duration',
    default: 60_000,
    doc: "Safety net only: the longest a remembered credential (an API key's principal, a caller's right to call an endpoint) is used without reading it again, which bounds how long a change notification lost between replicas (a failed NOTIFY) could keep a revoked key working elsewhere.",
  },
  // ── the web console's push channel (src/api/dialects/console/events.ts) ──
  consoleEventsHeartbeatMs: {
    type: 'duration',
    min: 1,
    default: 15_000,
    doc: 'How often an open console event stream gets a comment line, so proxies and the browser keep it open and a dead connection is noticed.',
  },
  consoleEventsCoalesceMs: {
    type: 'duration',
    default: 200,
    doc: 'Console push: at most one push per record in this time; the changes of a burst are read once and sent as one row.',
  },
  consoleEventsStreamsPerKey: {
    type: 'integer',
    default: 16,
    doc: 'Most console event streams one API key may hold open on one replica (one per browser tab); one more is CONSOLE_STREAMS_LIMIT (429).',
  },
  // ── SSH access to instances (src/agent/ssh-access.ts, docs/decisions/010-ssh-access.md) ──
  sshBindAddress: {
    type: 'string',
    default: '0.0.0.0',
    doc: "Address the agent's SSH listeners bind (one per instance, on the instance's SSH port); clients reach them at publicIp.",
  },
  sshLoginGraceMs: {
    type: 'duration',
    min: 1_000,
    default: 120_000,
    doc: "A connection to an instance's SSH port that has not logged in within this is cut (OpenSSH's LoginGraceTime).",
  },
  sshKeepaliveMs: {
    type: 'duration',
    min: 1_000,
    default: 15_000,
    doc: 'How often a logged-in SSH client that sends nothing is asked whether it is there (three unanswered, and it is cut), and how long a client has to close once the agent ended its connection.',
  },
  sshSftpServer: {
    type: 'string',
    default: '/usr/lib/openssh/sftp-server',
    doc: "SFTP server run inside the instance for the `sftp` subsystem (scp, sftp); Debian's openssh-sftp-server.",
  },
  executeTimeoutMs: {
    type: 'duration',
    default: 60_000,
    doc: 'Bound on one `execute` command (ls, du, rm) run inside an instance; longer ones are ended and their output so far kept.',
  },
  copyTimeoutMs: { type: 'duration', default: 3_600_000, doc: 'Bound on one copy between two instances (a tar stream between agents); a longer one is ended.' },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;

type ValueOf<S extends Setting> = S['type'] extends 'string'
  ? string
  : S['type'] extends 'optional-string'
    ? string | null
    : S['type'] extends 'boolean'
      ? boolean
      : number;

export type Config = { readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };

/** `GANTRY_STOP_GRACE_MS` for `stopGraceMs`, `GANTRY_DATA_DIR` for `dataDir`. */
export function envName(key: string): string {
  return 'GANTRY_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

import type { Command } from 'commander';
import { resolve } from 'node:path';
import { cliEnv, loadConfig, workloadBaseEnv } from '../config/load.js';
import { stopOnSignals } from './stop-signals.js';
import { SETTINGS, envName, type SettingKey } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { banner, chooseLogFormat } from './server-terminal.js';
import { registerDown } from './down-command.js';
import { parsePortRange } from '../config/port-range.js';
import { NOT_ISOLATED } from './agent-command.js';

/** How the host line of `gantry up` names the machine's isolation (README "Isolation"). */
const ISOLATION_NOTE = { sandboxed: ' (sandboxed)', shared: ' (NOT isolated: owner only)', 'unsafe-shared': ' (NOT isolated)' } as const;

interface UpFlags {
  dataDir?: string;
  host?: string;
  port?: string;
  database?: string;
  gpus?: string;
  runtime?: string;
  publicIp?: string;
  publicUrl?: string;
  logLevel?: string;
  logFormat?: string;
  rateLimit?: string;
  portRange?: string;
  config?: string;
  processSandbox?: string;
  unsafeSharedProcessRuntime?: boolean;
}

async function run(flags: UpFlags, localHost: boolean): Promise<void> {
  const picked: Partial<Record<SettingKey, unknown>> = {};
  for (const k of [
    'dataDir',
    'host',
    'port',
    'database',
    'gpus',
    'runtime',
    'publicIp',
    'publicUrl',
    'logLevel',
    'rateLimit',
    'processSandbox',
    'unsafeSharedProcessRuntime',
  ] as const) {
    if (flags[k] !== undefined) picked[k] = flags[k];
  }
  if (flags.portRange !== undefined) Object.assign(picked, parsePortRange(flags.portRange));
  const config = loadConfig({ flags: picked, file: flags.config ?? null });
  const log = createLogger(config.logLevel, process.stderr, chooseLogFormat(flags.logFormat, process.stderr.isTTY === true));
  // Loaded here, not at the top: every other verb of the CLI would otherwise load the whole server first.
  const { startGantry } = await import('../main/up.js');
  const g = await startGantry({ config, workloadEnv: workloadBaseEnv(), localHost, log });
  const machineId = g.agent?.machineId ?? null;
  const m = machineId === null ? undefined : await g.store.getMachine(machineId, g.control.now());
  const hostLine = m
    ? `machine ${m.id}: ${m.numGpus === 0 ? 'no GPUs (CPU instances)' : `${m.numGpus}x ${m.gpuName}${m.gpuDeclared ? ' (declared)' : ''}`}${m.verified ? ', verified' : ''}, runtime ${m.runtime ?? '?'}${m.runtime === 'docker' ? '' : ISOLATION_NOTE[m.isolation ?? 'shared']}`
    : 'none (control plane only)';
  if (m !== undefined && m.isolation !== 'sandboxed') process.stderr.write(NOT_ISOLATED(config.unsafeSharedProcessRuntime));
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping the control plane; workloads that still run keep running and are re-adopted on the next start.\n`);
    g.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Before the banner: whoever reads it (a test, a supervisor) may signal at once, and until the handler is
  // set a SIGTERM kills the process without closing the store.
  stopOnSignals(shutdown, config.parentWatchMs);
  process.stdout.write(
    banner({
      url: g.url,
      createdKey: g.adminKeyCreated ? g.adminKey : null,
      adminKeyFile: g.adminKeyFile,
      keySource: g.adminKeySource,
      cliFindsDataDir: resolve(cliEnv().dataDir) === resolve(config.dataDir),
      dataDir: config.dataDir,
      database: g.store.name,
      hostLine,
      localHost,
    }),
  );
}

/** "(default: 7070; env GANTRY_PORT)": the default is shown, not set, so env and --config still apply. */
const dflt = (k: SettingKey, shown?: string): string => `(default: ${shown ?? String(SETTINGS[k].default)}; env ${envName(k)})`;

function serverFlags(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', `state directory; one server per data dir ${dflt('dataDir', '$XDG_DATA_HOME/gantry or ~/.local/share/gantry')}`)
    .option('--host <addr>', `listen address ${dflt('host')}`)
    .option('--port <port>', `listen port, 0 = any free port ${dflt('port')}`)
    .option('--database <url>', `postgres://... ${dflt('database', 'SQLite in the data dir')}`)
    .option('--public-url <url>', `base URL clients use to reach this server ${dflt('publicUrl', 'taken from each request')}`)
    .option('--log-level <level>', `trace|debug|info|warn|error|silent ${dflt('logLevel')}`)
    .option('--log-format <format>', 'pretty | json (default: pretty when stderr is a terminal, else json)')
    .option('--rate-limit <r>', `requests per second per API key and endpoint family, 0 disables ${dflt('rateLimit')}`)
    .option('--config <file>', 'JSON config file (see docs/config.md)');
}

export function registerUp(program: Command): void {
  serverFlags(program.command('up').description('run the control plane and this machine as a host, in one process'))
    .option('--gpus <decl>', `declare GPUs for development, e.g. "2x RTX 4090:24GB" ${dflt('gpus', 'detected with nvidia-smi')}`)
    .option('--runtime <kind>', `docker | process | auto; auto: docker when an engine answers at DOCKER_HOST or /var/run/docker.sock ${dflt('runtime')}`)
    .option('--public-ip <addr>', `address shown as instances' public_ipaddr ${dflt('publicIp')}`)
    .option(
      '--port-range <first-last>',
      `host ports handed to instances; ports in use on the host are skipped (default: ${String(SETTINGS.portRangeStart.default)}-${String(SETTINGS.portRangeEnd.default)})`,
    )
    .option('--process-sandbox <mode>', `process runtime isolation: auto | bwrap | off, README "Isolation" ${dflt('processSandbox')}`)
    .option('--unsafe-shared-process-runtime', "take every account's instances although workloads are not isolated")
    .action((flags: UpFlags) => run(flags, true));
  serverFlags(program.command('server').description('run the control plane only (hosts join with `gantry agent`)')).action((flags: UpFlags) =>
    run(flags, false),
  );
  registerDown(program);
}

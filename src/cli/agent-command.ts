import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { HttpChannel } from '../agent/channel.js';
import { isHttpUrl, loadConfig, workloadBaseEnv } from '../config/load.js';
import type { SettingKey } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { parsePortRange } from '../config/port-range.js';
import { stopOnSignals } from './stop-signals.js';

const FLAGS = ['server', 'token', 'dataDir', 'gpus', 'runtime', 'publicIp', 'logLevel', 'processSandbox', 'unsafeSharedProcessRuntime'] as const;

/** The start-up warning of a host whose workloads are not isolated (README "Isolation"). */
export const NOT_ISOLATED = (unsafe: boolean): string =>
  `WARNING: workloads on this host are NOT isolated (no process sandbox: install bubblewrap, or see the log);\n` +
  (unsafe
    ? `  --unsafe-shared-process-runtime: every account's instances run here and can read each other's files and Gantry's keys.\n`
    : `  this host takes only its owner's instances (--unsafe-shared-process-runtime accepts others' anyway).\n`);

/** `gantry agent`: join a control plane as one host. Workloads outlive the agent and are adopted on restart. */
export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run this machine as a host of a Gantry control plane')
    .option('--server <url>', 'control plane URL (GANTRY_SERVER)')
    .option('--token <token>', 'host token from `gantry create host-token` (GANTRY_TOKEN)')
    .option('--data-dir <dir>', 'state of this host: its identity and instance disks')
    .option('--gpus <decl>', 'declare GPUs for development, e.g. "2x RTX 4090:24GB" (default: nvidia-smi)')
    .option('--runtime <kind>', 'docker | process | auto (docker when an engine answers)')
    .option('--public-ip <addr>', "address shown as instances' public_ipaddr")
    .option('--log-level <level>', 'trace|debug|info|warn|error|silent')
    .option('--port-range <first-last>', 'host ports handed to instances (default 41000-41999); ports in use on the host are skipped')
    .option('--config <file>', 'JSON config file (see docs/config.md)')
    .option('--process-sandbox <mode>', 'process runtime isolation: auto | bwrap | off (README "Isolation")')
    .option('--unsafe-shared-process-runtime', "take every account's instances although workloads are not isolated")
    .action(async (flags: Record<string, string | undefined>) => {
      const picked: Partial<Record<SettingKey, unknown>> = {};
      for (const k of FLAGS) if (flags[k] !== undefined) picked[k] = flags[k];
      if (flags.portRange !== undefined) Object.assign(picked, parsePortRange(flags.portRange));
      const c = loadConfig({ flags: picked, file: flags.config ?? null });
      if (c.server === null || c.token === null) throw new Error('gantry agent needs --server URL and --token TOKEN (see `gantry create host-token`).');
      // A URL that cannot parse never reaches a server: refused now, not retried for ever.
      if (!isHttpUrl(c.server)) throw new Error(`--server needs an http:// or https:// URL, got '${c.server}'.`);
      // A sandbox uid base another install holds, or runs workloads under, is refused before anything is written.
      const { checkSandboxUidBase } = await import('../main/runtime.js');
      await checkSandboxUidBase(c);
      // One process per data dir: two agents on one would each run the host's workloads (twice).
      await mkdir(c.dataDir, { recursive: true, mode: 0o700 });
      const { DataDirLock } = await import('../main/data-dir-lock.js');
      try {
        DataDirLock.acquire(c.dataDir);
      } catch (err) {
        const pid = (err as { details?: { pid?: unknown } }).details?.pid;
        if (typeof pid !== 'number') throw err;
        throw new Error(`another Gantry process (pid ${pid}) uses data dir ${c.dataDir}; stop it first, or give this agent its own --data-dir.`);
      }
      const log = createLogger(c.logLevel);
      const { startHost } = await import('../main/host.js'); // only this verb needs the host's code
      let host: Awaited<ReturnType<typeof startHost>> | null = null;
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`\n${signal}: agent stopping; instances keep running and are adopted when it starts again.\n`);
        // Still joining (a control plane not yet reached): nothing of this host runs yet.
        if (host === null) process.exit(0);
        void host.agent
          .stop()
          .then(() => host?.runtime.close())
          .finally(() => process.exit(0));
      };
      // Before joining, which retries while the control plane is away: an npm that is gone ends it too.
      stopOnSignals(shutdown, c.parentWatchMs);
      let runtime: { close(): Promise<void> } | null = null;
      // A machine deleted while this agent ran: say why and exit, instead of asking again forever.
      const onRefused = (err: unknown): void => {
        process.stderr.write(`gantry agent: the control plane refused this host: ${err instanceof Error ? err.message : String(err)}\n`);
        void (runtime?.close() ?? Promise.resolve()).finally(() => process.exit(1));
      };
      const started = await startHost(c, new HttpChannel(c.server, c.token, c.agentRequestTimeoutMs), { log, workloadEnv: workloadBaseEnv(), onRefused });
      host = started;
      runtime = started.runtime;
      if (!started.sandboxed) process.stderr.write(NOT_ISOLATED(c.unsafeSharedProcessRuntime));
      process.stdout.write(`Agent is up: machine ${started.agent.machineId ?? '?'} on ${c.server} (runtime ${started.runtime.name}, data ${c.dataDir}).\n`);
    });
}

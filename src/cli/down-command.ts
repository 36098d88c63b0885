import type { Command } from 'commander';
import { cliEnv } from '../config/load.js';
import { alive, liveHolder, type LockHolder } from '../main/data-dir-lock.js';
import { GantryApiError, GantryClient } from '../sdk/client.js';
import { noAnswerReason } from '../sdk/errors.js';
import { dataDirConnection, type GlobalFlags } from './connection.js';
import { oneLine } from './output.js';

interface DownFlags {
  dataDir?: string;
  timeout?: string;
  workloads?: boolean;
}

/** One item of POST /api/v0/gantry/stop_workloads. */
interface StopRow {
  kind: 'endpoint' | 'instance';
  id: number;
  account_id: number;
  name: string | null;
  status: string;
  stopped: boolean;
  error: string | null;
  msg: string | null;
}

interface StopAnswer {
  complete: boolean;
  endpoints: StopRow[];
  instances: StopRow[];
}

/**
 * Longest wait one request asks the server for: fetch gives up on an answer after 300 s, so a longer
 * --timeout is several calls (each stop is asked once; asking again only waits again).
 */
const CALL_S = 120;

// Names, statuses and messages are the tenants' (an instance's label): said as the tables say them, with no escape let through.
const describe = (r: StopRow): string => `${r.kind} ${r.id}${r.name !== null ? ` (${oneLine(r.name)})` : ''} of account ${r.account_id}`;

/**
 * Stop every workload of the server first (admin route), waiting at most timeoutS: true when all
 * are stopped. Prints one line per item stopped, and per item not stopped with the reason.
 */
async function stopWorkloads(dataDir: string, h: LockHolder, timeoutS: number, flags: GlobalFlags): Promise<boolean> {
  if (h.url === null) throw new Error(`Gantry (pid ${h.pid}) on data dir ${dataDir} is still starting; run \`gantry down --workloads\` again once it listens.`);
  const c = dataDirConnection(dataDir, h.url, flags);
  if (c.apiKey === null)
    throw new Error(
      `--workloads needs the server's admin key: none at ${c.keyFile}; pass --api-key <admin key> (or plain \`gantry down\` stops only the server).`,
    );
  const client = new GantryClient({ url: c.url, apiKey: c.apiKey });
  const end = Date.now() + timeoutS * 1000;
  let r: StopAnswer;
  try {
    for (;;) {
      const left = Math.max(0, (end - Date.now()) / 1000);
      const callS = Math.min(CALL_S, left);
      // The server holds this call up to `timeout` on purpose: the client's own bound is that and a margin.
      r = await client.request<StopAnswer>('POST', '/api/v0/gantry/stop_workloads/', { timeout: callS }, {}, { timeoutMs: (callS + 30) * 1000 });
      // Call again only while some stop is still under way: a refusal or a failed stop would answer the same at once.
      const underWay = [...r.endpoints, ...r.instances].some((x) => x.error === 'STOP_TIMEOUT');
      if (r.complete || !underWay || Date.now() >= end) break;
    }
  } catch (err) {
    if (err instanceof GantryApiError && (err.status === 401 || err.status === 403))
      throw new Error(
        `--workloads: ${err.message} (the key came from ${c.keySource ?? 'nowhere'}; it must be an admin key of this server: pass one with --api-key, which comes before the data dir's key file and GANTRY_API_KEY).`,
      );
    if (err instanceof TypeError) throw new Error(`--workloads: Gantry (pid ${h.pid}) does not answer at ${c.url} (${noAnswerReason(err)}).`);
    throw err;
  }
  const rows = [...r.endpoints, ...r.instances];
  for (const row of rows.filter((x) => x.stopped)) process.stdout.write(`Stopped ${describe(row)}.\n`);
  const left = rows.filter((x) => !x.stopped);
  for (const row of left) process.stderr.write(`Not stopped: ${describe(row)}, ${oneLine(row.status)}: ${oneLine(row.msg ?? row.error ?? 'unknown')}\n`);
  if (rows.length === 0) process.stdout.write('No workloads to stop.\n');
  return left.length === 0;
}

/**
 * `gantry down`: SIGTERM to the process that holds the data dir's lock, then wait (bounded) until it
 * exited. Like Ctrl-C, it stops the control plane only: instances keep running and the next `gantry up`
 * re-adopts them. With --workloads it first stops every endpoint and instance through the server, and
 * stops the server only once all of them are stopped: otherwise it says which are not, leaves the
 * server running (so their stops go on, and show) and fails.
 */
async function down(flags: DownFlags, global: GlobalFlags): Promise<void> {
  const dataDir = flags.dataDir ?? cliEnv().dataDir;
  const timeoutS = Number(flags.timeout ?? (flags.workloads === true ? '60' : '30'));
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error(`--timeout must be a positive number of seconds, not '${flags.timeout}'.`);
  const h = liveHolder(dataDir);
  if (h === null) {
    const more = flags.workloads === true ? ' Workloads it left running are adopted by the next `gantry up`; stop them then.' : '';
    process.stdout.write(`No Gantry server runs on data dir ${dataDir}.${more}\n`);
    return;
  }
  if (flags.workloads === true && !(await stopWorkloads(dataDir, h, timeoutS, global))) {
    throw new Error(
      `Not every workload stopped within ${timeoutS}s, so Gantry (pid ${h.pid}) keeps running and their stops go on. ` +
        'Run `gantry down --workloads` again (a longer --timeout waits longer), or plain `gantry down` to stop only the server (what runs is re-adopted on the next start).',
    );
  }
  process.kill(h.pid, 'SIGTERM');
  const end = Date.now() + timeoutS * 1000;
  while (alive(h.pid)) {
    if (Date.now() > end)
      throw new Error(
        `Gantry (pid ${h.pid}) did not exit within ${timeoutS}s of SIGTERM; wait longer (--timeout) or \`kill -9 ${h.pid}\` (instances keep running either way).`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  const after =
    flags.workloads === true
      ? 'Its workloads are stopped; the next `gantry up` leaves them stopped.'
      : 'Instances keep running; the next `gantry up` re-adopts them.';
  process.stdout.write(`Stopped Gantry (pid ${h.pid}${h.url !== null ? `, ${h.url}` : ''}). ${after}\n`);
}

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop the Gantry server of a data dir (its instances keep running and are re-adopted on the next start; --workloads stops them first)')
    .option('--data-dir <dir>', 'state directory of the server to stop (default: GANTRY_DATA_DIR, then ~/.local/share/gantry)')
    .option(
      '--workloads',
      "first stop every endpoint, deployment and instance of every account (a normal stop: configuration kept), with the data dir's admin key; the server is stopped only if all of them stopped",
    )
    .option(
      '--timeout <seconds>',
      'how long to wait for the server to exit and, with --workloads, first for the workloads to stop (default: 30; 60 with --workloads)',
    )
    .action((flags: DownFlags, cmd: Command) => down(flags, cmd.optsWithGlobals<GlobalFlags>()));
}

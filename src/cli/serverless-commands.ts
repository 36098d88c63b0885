import type { Command } from 'commander';
import type { Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { cliNumber, parseCliId, printIds, printJson, QUIET_FLAG, table, text, verbGroup } from './output.js';
import { say } from './human.js';
import { checkedSearchQuery } from './search-args.js';
import { GantryApiError } from '../sdk/errors.js';

const isNotFound = (e: unknown): boolean => e instanceof GantryApiError && e.status === 404;
/** `--level` of `get endpoint logs`, as vastai's `get endpt-logs` reads the answer. */
const LOG_LEVELS = ['info0', 'info1', 'trace', 'debug'] as const;

type Flags = GlobalFlags & Record<string, string | boolean | undefined>;
const json = printJson;
const id = parseCliId;
const group = verbGroup;

/** Endpoint parameters as flags (vastai spells them with underscores; dashes work too). */
const PARAMS: [string, string][] = [
  ['min_load', 'floor of the load active workers carry (perf units/s)'],
  ['min_cold_load', 'floor of the load active plus cold workers carry'],
  ['target_util', 'wanted load / active capacity, 0..1'],
  ['cold_mult', 'cold capacity as a multiple of hot capacity'],
  ['cold_workers', 'inactive workers kept in reserve'],
  ['min_workers', 'fewest workers (active and inactive)'],
  ['max_workers', 'most workers'],
  ['inactivity_timeout', 'seconds idle before scaling to zero (0 off, negative never)'],
  ['max_queue_time', 'seconds a worker may queue before others are used'],
  ['target_queue_time', 'queue seconds that make the autoscaler add a worker'],
];

function withParams(c: Command): Command {
  for (const [name, doc] of PARAMS) c.option(`--${name} <v>`, doc).option(`--${name.replace(/_/g, '-')} <v>`);
  return c;
}

function params(f: Flags): Row {
  const out: Row = {};
  for (const [name] of PARAMS) {
    const camel = name.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());
    const v = f[name] ?? f[camel];
    // A value that is not a number stops the verb, naming the flag: Number('abc') would be sent as null
    // (the parameter quietly left as it was) and Number('') as 0.
    if (v !== undefined) out[name] = cliNumber(v, `--${name}`);
  }
  return out;
}

function template(f: Flags): Row {
  return {
    ...(f.image !== undefined ? { image: f.image } : {}),
    ...(f.env !== undefined ? { env: f.env } : {}),
    ...(f.onstartCmd !== undefined ? { onstart: f.onstartCmd } : {}),
    ...(f.argsJson !== undefined ? { args: JSON.parse(String(f.argsJson)) as unknown } : {}),
    ...(f.disk !== undefined ? { disk: cliNumber(f.disk, '--disk') } : {}),
    ...(f.search !== undefined ? { search_params: checkedSearch(f.search) } : {}),
    ...(f.launchArgs !== undefined ? { launch_args: f.launchArgs } : {}),
    ...(f.gpuRam !== undefined ? { gpu_ram: cliNumber(f.gpuRam, '--gpu-ram') } : {}),
    ...(f.testWorkers !== undefined ? { test_workers: cliNumber(f.testWorkers, '--test-workers') } : {}),
  };
}

/**
 * `--search` checked as `search offers` checks its query, before anything is sent: the API ignores
 * field names it does not know (Vast's clients send many), so `num_gpu=1` would make workers on any offer.
 */
function checkedSearch(search: string | boolean): string {
  checkedSearchQuery(String(search));
  return String(search);
}

function withTemplate(c: Command): Command {
  return c
    .option('--image <image>', 'worker image')
    .option('--env <flags>', "worker env as Docker flags: '-e K=V -p 8000:8000'")
    .option('--onstart-cmd <cmd>', 'command each worker runs at start')
    .option('--args-json <json>', '(set by --args) worker arguments')
    .option('--disk <gb>', 'worker disk, GB')
    .option('--search <query>', "offers workers are created from, in the search language: 'num_gpus=1 gpu_ram>=24'")
    .option('--launch-args <flags>', 'extra create flags for workers')
    .option('--gpu-ram <gb>', 'least GPU memory per worker, GB')
    .option('--test-workers <n>', 'most workers while no benchmark is known');
}

const DEPLOYMENT_COLUMNS: [string, string | ((r: Row) => unknown)][] = [
  ['ID', 'id'],
  ['Name', 'name'],
  ['State', 'endpoint_state'],
  ['Status', 'gantry_status'],
  ['Workers', 'workers'],
  ['Ready', 'ready_workers'],
  ['Image', 'image'],
  ['Message', 'status_msg'],
];

/**
 * Vast's endpoint_state reads `stopped` as soon as a stop is asked for; a drain can go on for minutes, so
 * the line says `stopping` until the server reports the workers stopped (gantry_status).
 */
function stopLine(did: string, r: Row, drain: boolean): string {
  const status = r.gantry_status;
  if (typeof status !== 'string' || status === 'stopped') return `Deployment ${did}: ${text(r.endpoint_state ?? 'stopping')}.`;
  const what = drain ? 'stopping: accepted and queued requests finish first' : 'stopping';
  return `Deployment ${did}: ${what}; \`gantry show deployment ${did}\` shows when it has stopped.`;
}

/** Serverless verbs of the vastai CLI: endpoints, workergroups, deployments. */
export function registerServerlessCommands(program: Command): void {
  const create = group(program, 'create', 'create resources');
  const show = group(program, 'show', 'show resources');
  const del = group(program, 'delete', 'delete resources');
  const out = (f: Flags, rows: Row[], cols: [string, string | ((r: Row) => unknown)][], none: string): void =>
    f.raw === true ? json(rows) : void process.stdout.write(table(rows, cols, none));

  withParams(create.command('endpoint').description('create a serverless endpoint').option('--endpoint_name <name>').option('--endpoint-name <name>')).action(
    async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).createEndpoint({ endpoint_name: f.endpoint_name ?? f.endpointName, ...params(f) });
      say(f, r, `Created endpoint ${text(r.id)}; its API key: ${text(r.api_key)}`);
    },
  );
  show
    .command('endpoints')
    .description('list your endpoints')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      out(
        f,
        await connect(f).listEndpoints(),
        [
          ['ID', 'id'],
          ['Name', 'endpoint_name'],
          ['State', 'endpoint_state'],
          ['Status', 'gantry_status'],
          ['min_load', 'min_load'],
          ['max_workers', 'max_workers'],
          ['API key', 'api_key'],
        ],
        'No endpoints.',
      );
    });
  withParams(group(program, 'update', 'change resources').command('endpoint <id>').description("change an endpoint's parameters"))
    .option('--endpoint_state <s>', 'active, suspended or stopped')
    .action(async (eid: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).updateEndpoint(id(eid, 'endpoint'), {
        ...params(f),
        ...(f.endpoint_state !== undefined ? { endpoint_state: f.endpoint_state } : {}),
      });
      say(f, r, `Updated endpoint ${eid}.`);
    });
  del
    .command('endpoint <id>')
    .description('delete an endpoint and destroy its workers')
    .action(async (eid: string, _o, cmd: Command) => {
      const r = await connect(cmd.optsWithGlobals()).deleteEndpoint(id(eid, 'endpoint'));
      say(cmd.optsWithGlobals(), r, text(r.msg ?? `Deleted endpoint ${eid}.`));
    });

  withTemplate(
    create.command('workergroup').description('create a workergroup of an endpoint').option('--endpoint_name <name>').option('--endpoint_id <id>'),
  ).action(async (_o, cmd: Command) => {
    const f: Flags = cmd.optsWithGlobals();
    const target = f.endpoint_id !== undefined ? { endpoint_id: id(String(f.endpoint_id), 'endpoint') } : { endpoint_name: f.endpoint_name };
    const r = await connect(f).createWorkergroup({ ...target, ...template(f) });
    say(f, r, `Created workergroup ${text(r.id)}.`);
  });
  show
    .command('workergroups')
    .description('list your workergroups')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      out(
        f,
        await connect(f).listWorkergroups(),
        [
          ['ID', 'id'],
          ['Endpoint', 'endpoint_name'],
          ['Image', 'image'],
          ['Search', 'search_params'],
        ],
        'No workergroups.',
      );
    });
  del
    .command('workergroup <id>')
    .description('delete a workergroup and destroy its workers')
    .action(async (wid: string, _o, cmd: Command) => {
      const r = await connect(cmd.optsWithGlobals()).deleteWorkergroup(id(wid, 'workergroup'));
      say(cmd.optsWithGlobals(), r, text(r.msg ?? `Deleted workergroup ${wid}.`));
    });

  const get = group(program, 'get', 'read details');
  const endpoint = get.command('endpoint').description("an endpoint's workers or logs");
  endpoint
    .command('workers <id>')
    .description("an endpoint's workers and their states")
    .action(async (eid: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      out(
        f,
        await connect(f).endpointWorkers(id(eid, 'endpoint')),
        [
          ['ID', 'id'],
          ['Status', 'status'],
          ['URL', 'url'],
          ['Perf', 'perf'],
          ['Load', 'cur_load'],
          ['Working', 'num_requests_working'],
        ],
        'No workers.',
      );
    });
  endpoint
    .command('logs <name_or_id>')
    .description("the logs of an endpoint's workers (a number is the endpoint's id, as `vastai get endpt-logs ID`)")
    .option('--tail <n>', 'last lines per worker')
    .option('--level <n>', "0: one line per worker; 1: what they printed; 2 and 3: both (as vastai's, default 1)", '1')
    .action(async (name: string, o: { tail?: string; level: string }, cmd: Command) => {
      const client = connect(cmd.optsWithGlobals());
      const tail = o.tail !== undefined ? cliNumber(o.tail, '--tail') : undefined;
      const level = LOG_LEVELS[Number(o.level)];
      if (!/^[0-3]$/.test(o.level) || level === undefined) throw new Error(`--level '${o.level}' is not 0, 1, 2 or 3.`);
      // A number is an id first; an endpoint may also be named with digits only.
      const byId = /^\d+$/.test(name)
        ? await client.endpointLogLevels(parseCliId(name, 'endpoint'), tail).catch((e: unknown) => {
            if (isNotFound(e)) return null;
            throw e;
          })
        : null;
      // The level vastai prints, never empty: "No workers yet…", or "(no output yet)" under a silent worker.
      const levels = byId ?? (await client.endpointLogLevels(name, tail));
      if (cmd.optsWithGlobals<Flags>().raw === true) return printJson(levels);
      // A server of before the levels answers `logs` alone.
      const out = levels[level] ?? (levels as { logs?: string }).logs ?? '';
      process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
    });

  withParams(withTemplate(create.command('deployment').description('create a deployment: an endpoint with one workergroup').requiredOption('--name <name>')))
    .option('--tag <tag>')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).createDeployment({ name: f.name, ...(f.tag !== undefined ? { tag: f.tag } : {}), ...template(f), ...params(f) });
      say(
        f,
        r,
        `Created deployment ${text(r.id)} '${String(f.name)}': endpoint ${text(r.endpoint_id)}, workergroup ${text(r.workergroup_id)}.\nEndpoint API key: ${text(r.api_key)}`,
      );
    });
  show
    .command('deployments')
    .description('list your deployments')
    .option(...QUIET_FLAG)
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const rows = await connect(f).listDeployments();
      if (f.quiet === true) printIds(rows);
      else out(f, rows, DEPLOYMENT_COLUMNS, 'No deployments.');
    });
  show
    .command('deployment <id>')
    .description('one deployment')
    .option(...QUIET_FLAG)
    .action(async (did: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const d = await connect(f).showDeployment(id(did, 'deployment'));
      // vastai's show deployment: --raw before -q.
      if (f.quiet === true && f.raw !== true) printIds([d]);
      else say(f, d, () => table([d], DEPLOYMENT_COLUMNS));
    });
  group(program, 'stop', 'stop resources')
    .command('deployment <id>')
    .description('stop a deployment: routing closes at once, workers stop and keep their state; start it again later')
    .option('--drain', 'finish every accepted and queued request first (finish_pending_work)')
    .option('--force', 'stop even when other endpoints route to it')
    .option('--timeout <seconds>', 'bound on the drain; given to a deployment already stopping, it can only shorten the one under way (0: end it now)')
    .action(async (did: string, o: { drain?: boolean; force?: boolean; timeout?: string }, cmd: Command) => {
      const stop = {
        finishPendingWork: o.drain === true,
        force: o.force === true,
        ...(o.timeout !== undefined ? { timeoutS: cliNumber(o.timeout, '--timeout') } : {}),
      };
      const r = await connect(cmd.optsWithGlobals()).stopDeployment(id(did, 'deployment'), stop);
      say(cmd.optsWithGlobals(), r, stopLine(did, r, stop.finishPendingWork));
    });
  group(program, 'start', 'start resources')
    .command('deployment <id>')
    .description('start a stopped deployment: inactive workers start first, then the autoscaler recruits')
    .action(async (did: string, _o, cmd: Command) => {
      const r = await connect(cmd.optsWithGlobals()).startDeployment(id(did, 'deployment'));
      say(cmd.optsWithGlobals(), r, `Deployment ${did}: ${text(r.endpoint_state ?? 'starting')}.`);
    });
  del
    .command('deployment <id>')
    .description('stop a deployment, destroy its workers and remove it')
    .action(async (did: string, _o, cmd: Command) => {
      const r = await connect(cmd.optsWithGlobals()).deleteDeployment(id(did, 'deployment'));
      say(cmd.optsWithGlobals(), r, text(r.msg ?? `Deleting deployment ${did}.`));
    });
}

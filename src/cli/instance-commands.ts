import { Option, type Command } from 'commander';
import type { CreateInstanceBody, GantryClient, Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { cliNumber, OFFER_COLUMNS, oneLine, parseCliId, printIds, QUIET_FLAG, withoutRuntimeNote, spinner, table, text } from './output.js';
import { bulkLines, instanceTable, MACHINE_COLUMNS, say } from './human.js';
import { checkedOrder, checkedSearchQuery, searchHelp } from './search-args.js';
import { readOnstartFile } from './cli-errors.js';

type Flags = GlobalFlags & Record<string, unknown>;
const out = (s: string): boolean => process.stdout.write(s);
const json = (v: unknown): boolean => out(JSON.stringify(v, null, 2) + '\n');

function flagsOf(cmd: Command): Flags {
  return cmd.optsWithGlobals();
}

const id = (text: string): number => parseCliId(text, 'instance');
const settleMsOf = (f: Flags): number => {
  const s = cliNumber(f.settle ?? SETTLE_S, '--settle');
  if (s < 0) throw new Error(`--settle '${String(f.settle)}' must be 0 or more seconds.`);
  return s * 1000;
};

/** Seconds `--wait` keeps watching an instance that reads running (`--settle`): long enough for a host to report an exit at once. */
const SETTLE_S = '3';
const SETTLE_FLAG = [
  '--settle <seconds>',
  'with --wait: watch this long after the instance reads running, so that one whose command exits at once is reported exited',
  SETTLE_S,
] as const;
/** States an instance reached once its command ended or it was stopped: what `--wait` reports instead of the running before them. */
const AT_REST = ['exited', 'stopped', 'unknown'];

/**
 * Wait (with a spinner) until the instance shows `want` (null: until it is gone). `running` is watched
 * `settleMs` longer: a command that exits at once reads running until its host reports the exit, a moment later.
 */
async function waitState(c: GantryClient, instanceId: number, want: string | null, what: string, before: Row | null = null, settleMs = 0): Promise<void> {
  const s = spinner(`instance ${instanceId} ${what}`);
  // An instance that had exited reads `exited` until the start is taken: only a new exit (another start
  // date, message or code, or a row that left `exited` meanwhile) ends the wait, not the old one.
  let left = before?.actual_status !== 'exited';
  const newExit = (r: Row): boolean => left || (['start_date', 'status_msg', 'exit_code'] as const).some((k) => r[k] !== before?.[k]);
  // A state the instance cannot leave by itself also ends the wait (reported, exit code 1).
  const settled = (r: Row): boolean => {
    if (r.actual_status !== 'exited') left = true;
    return want === 'running'
      ? ['running', 'unknown'].includes(String(r.actual_status)) || (r.actual_status === 'exited' && newExit(r)) || r.intended_status === 'stopped'
      : want === 'stopped'
        ? r.actual_status === 'stopped' || r.actual_status === 'unknown'
        : false; // destroy: only the instance's disappearance (404) ends the wait
  };
  // The settled row is said once, by the closing line, not also as progress.
  const onPoll = (r: Row): void => {
    if (!settled(r)) s.update(oneLine(text(r.actual_status ?? 'scheduling')));
  };
  let row = await c.waitFor(instanceId, settled, { onPoll }).catch((err: unknown) => {
    // Destroyed instances disappear: that is the end state of a destroy.
    if (want === null && (err as { status?: number }).status === 404) return null;
    throw err;
  });
  if (row === null) return s.done(`instance ${instanceId} destroyed`);
  if (want === 'running' && row.actual_status === 'running' && settleMs > 0) {
    const until = Date.now() + settleMs;
    const rested = (r: Row): boolean => AT_REST.includes(String(r.actual_status)) || r.intended_status === 'stopped';
    row = await c.waitFor(instanceId, (r) => rested(r) || Date.now() >= until, { timeoutMs: settleMs + 60_000 });
  }
  // status_msg may quote the workload's own output (why it exited).
  const msg = oneLine(withoutRuntimeNote(row.status_msg) ?? '');
  s.done(`instance ${instanceId} ${oneLine(text(row.actual_status))}${msg !== '' ? ` (${msg})` : ''}`, row.actual_status === want);
  if (row.actual_status !== want) process.exitCode = 1;
}

/** An empty search says why it may be empty and what to try, instead of a bare header. */
export function noOffersHint(query: string, defaults: boolean): string {
  const tips = [
    /num_gpus\s*>=?\s*[1-9]/.test(query) ? "on a machine without GPUs offers have num_gpus=0: search 'num_gpus>=0'" : null,
    defaults ? 'the default filters verified=true rentable=true rented=false apply: -n drops them' : null,
    'gantry show machines lists the machines and whether they are listed',
  ].filter((t): t is string => t !== null);
  return `No offers match.\n${tips.map((t) => `  - ${t}`).join('\n')}\n`;
}

export function registerInstanceCommands(program: Command): void {
  const search = program.command('search').description('search offers');
  search
    .command('offers [query...]')
    .description("search offers, e.g. 'num_gpus>=1 rentable=true' (memory in GB)")
    .option('-o, --order <fields>', "sort fields, '-' suffix for descending", 'score-')
    .option('--limit <n>', 'most offers to show', '50')
    .option('--type <type>', 'on-demand | bid | reserved', 'on-demand')
    .option('--storage <gb>', 'disk GB used to price dph_total', '5')
    .option('-n, --no-default', 'do not add the default filters verified=true rentable=true rented=false')
    .addHelpText('after', searchHelp())
    .action(async (words: string[], _o, cmd: Command) => {
      const f = flagsOf(cmd);
      const q: Row = {
        ...(f.default === false ? {} : { verified: { eq: true }, rentable: { eq: true }, rented: { eq: false } }),
        ...checkedSearchQuery(words.join(' ')),
      };
      q.order = checkedOrder(String(f.order));
      q.limit = cliNumber(f.limit, '--limit');
      q.type = f.type;
      q.allocated_storage = cliNumber(f.storage, '--storage');
      const offers = await connect(f).searchOffers(q);
      if (f.raw === true) json(offers);
      else if (offers.length > 0) out(table(offers, OFFER_COLUMNS));
      else out(noOffersHint(words.join(' '), f.default !== false));
    });

  const create = program.command('create').description('create resources');
  create
    .command('instance <offer_id>')
    .description('rent an offer')
    .option('--image <image>', 'image name (recorded; the process runtime runs commands on the host)', 'local/shell')
    .option('--disk <gb>', 'disk size in GB', '8')
    .option('--env <flags>', "env and ports as Docker flags: '-e K=V -p 8080:8080'")
    .option('--onstart-cmd <cmd>', 'bash command run when the instance starts')
    .option('--onstart <file>', 'file whose content is the onstart script')
    .option('--entrypoint <cmd>', 'main command')
    .option('--args <args...>', 'main command and its arguments, everything after --args (runtype args)')
    .addOption(new Option('--args-json <json>').hideHelp())
    .option('--label <label>', 'label')
    .option('--price <dph>', 'bid price per hour (interruptible)')
    .option('--stopped', 'create it stopped (target_state=stopped)')
    .option('--wait', 'wait until it runs (or its command ended) and say which')
    .option(...SETTLE_FLAG)
    .action(async (offer: string, _o, cmd: Command) => {
      const f = flagsOf(cmd);
      const body: CreateInstanceBody = { image: String(f.image), disk: cliNumber(f.disk, '--disk') };
      if (typeof f.env === 'string') body.env = f.env;
      if (typeof f.onstartCmd === 'string') body.onstart = f.onstartCmd;
      if (typeof f.onstart === 'string') body.onstart = readOnstartFile(f.onstart);
      if (typeof f.entrypoint === 'string') body.entrypoint = f.entrypoint;
      if (typeof f.argsJson === 'string') body.args = JSON.parse(f.argsJson) as string[];
      if (typeof f.label === 'string') body.label = f.label;
      if (typeof f.price === 'string') body.price = cliNumber(f.price, '--price');
      if (f.stopped === true) body.target_state = 'stopped';
      const c = connect(f);
      const r = await c.createInstance(parseCliId(offer, 'offer'), body);
      say(f, r, `Created instance ${text(r.new_contract)} from offer ${offer}${f.stopped === true ? ' (stopped)' : ''}.`);
      if (f.wait === true) await waitState(c, r.new_contract, f.stopped === true ? 'stopped' : 'running', 'starting', null, settleMsOf(f));
    });

  const show = program.command('show').description('show resources');
  show
    .command('instances')
    .description('your instances')
    .option(...QUIET_FLAG)
    .action(async (_o, cmd: Command) => {
      const f = flagsOf(cmd);
      const rows = await connect(f).listInstances();
      if (f.quiet === true) printIds(rows);
      else if (f.raw === true) json(rows);
      else out(rows.length === 0 ? 'No instances.\n' : instanceTable(rows));
    });
  show
    .command('instance <id>')
    .description('one instance')
    .option(...QUIET_FLAG)
    .action(async (i: string, _o, cmd: Command) => {
      const f = flagsOf(cmd);
      const row = await connect(f).showInstance(id(i));
      if (f.quiet === true) printIds([row]);
      else if (f.raw === true) json(row);
      else out(instanceTable([row]));
    });
  show
    .command('machines')
    .description('machines (hosts)')
    .option(...QUIET_FLAG)
    .action(async (_o, cmd: Command) => {
      const f = flagsOf(cmd);
      const { machines } = await connect(f).listMachines();
      // vastai's show machines: --raw before -q (show instances: -q first).
      if (f.raw === true) json(machines);
      else if (f.quiet === true) printIds(machines, ' ');
      else out(machines.length === 0 ? 'No machines.\n' : table(machines, MACHINE_COLUMNS));
    });

  program
    .command('logs <id>')
    .description("an instance's stdout/stderr (text, --raw too, as vastai logs)")
    .option('--tail <n>', 'last N lines', '1000')
    .option('--filter <text>', 'only lines containing this text')
    .action(async (i: string, _o, cmd: Command) => {
      const f = flagsOf(cmd);
      const text = await connect(f).logs(id(i), { tail: cliNumber(f.tail, '--tail'), ...(typeof f.filter === 'string' ? { filter: f.filter } : {}) });
      // On stderr, so that `gantry logs ID > file` still holds only what the instance wrote.
      if (text === '')
        process.stderr.write(typeof f.filter === 'string' ? `No line of instance ${i} contains that text.\n` : `Instance ${i} has written nothing yet.\n`);
      else out(text);
    });

  const verbs: [verb: string, run: (c: GantryClient, i: number) => Promise<Row>, want: string | null, what: string][] = [
    ['start', (c, i) => c.setState(i, 'running'), 'running', 'starting'],
    ['stop', (c, i) => c.setState(i, 'stopped'), 'stopped', 'stopping'],
    ['destroy', (c, i) => c.destroy(i), null, 'being destroyed'],
    ['reboot', (c, i) => c.reboot(i), 'running', 'rebooting'],
    ['recycle', (c, i) => c.recycle(i), 'running', 'recycling'],
  ];
  for (const [verb, run, want, what] of verbs) {
    const group = program.command(verb).description(`${verb} instances`);
    const one = group.command('instance <id>').option('--wait', 'wait until the state is reached');
    if (want === 'running') one.option(...SETTLE_FLAG);
    one.action(async (i: string, _o, cmd: Command) => {
      const f = flagsOf(cmd);
      const c = connect(f);
      // What it showed before, so that a wait for a start is not ended by the exit it starts from.
      const before = f.wait === true && want === 'running' ? await c.showInstance(id(i)) : null;
      const r = await run(c, id(i));
      say(f, r, text(r.msg ?? `${verb} requested for instance ${i}`));
      if (f.wait === true) await waitState(c, id(i), want, what, before, want === 'running' ? settleMsOf(f) : 0);
    });
    if (verb === 'start' || verb === 'stop' || verb === 'destroy') {
      group.command('instances <ids...>').action(async (ids: string[], _o, cmd: Command) => {
        const f = flagsOf(cmd);
        const c = connect(f);
        const r = verb === 'destroy' ? await c.destroyMany(ids.map(id)) : await c.setStates(ids.map(id), verb === 'start' ? 'running' : 'stopped');
        say(f, r, () => bulkLines(r, verb === 'start' ? 'started' : verb === 'stop' ? 'stopped' : 'destroyed'));
        if (r.success !== true) process.exitCode = 1;
      });
    }
  }

  program
    .command('label')
    .description('label resources')
    .command('instance <id> <label>')
    .action(async (i: string, label: string, _o, cmd: Command) => {
      const f = flagsOf(cmd);
      say(f, await connect(f).label(id(i), label), `Labelled instance ${i} '${label}'.`);
    });

  program
    .command('verify')
    .description('admin: mark machines verified')
    .command('machine <id>')
    .option('--unverify', 'remove the mark')
    .action(async (i: string, _o, cmd: Command) => {
      const f = flagsOf(cmd);
      const r = await connect(f).verifyMachine(id(i), f.unverify !== true);
      say(f, r, text(r.msg ?? `Machine ${i} ${f.unverify === true ? 'unverified' : 'verified'}.`));
    });
}

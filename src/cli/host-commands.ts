import type { Command } from 'commander';
import type { Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { cliNumber, parseCliId, printJson, text, verbGroup } from './output.js';
import { say } from './human.js';

type Flags = GlobalFlags & Record<string, string | boolean | undefined>;

const json = printJson;
const machineId = (text: string): number => parseCliId(text, 'machine');

const number = (text: string): number => cliNumber(text, 'the value');

const group = verbGroup;

/** Host-side verbs of the vastai CLI: list/unlist machine, schedule/cancel maint, set min-bid; plus host tokens. */
export function registerHostCommands(program: Command): void {
  const listing: [string, string, string][] = [
    ['-g, --price_gpu <p>', 'price_gpu', '$ per GPU per hour'],
    ['-s, --price_disk <p>', 'price_disk', '$ per GB of disk per month'],
    ['-u, --price_inetu <p>', 'price_inetu', '$ per GB uploaded'],
    ['-d, --price_inetd <p>', 'price_inetd', '$ per GB downloaded'],
    ['-b, --price_min_bid <p>', 'price_min_bid', 'minimum bid, $ per GPU per hour'],
    ['-m, --min_chunk <n>', 'min_chunk', 'smallest number of GPUs rented together (power of two)'],
    ['-e, --end_date <t>', 'end_date', 'listing end, epoch seconds'],
    ['-r, --discount_rate <r>', 'discount_rate', 'largest prepay discount, 0..1'],
  ];
  const list = group(program, 'list', 'list resources for rent').command('machine <id>').description('list a machine for rent (or change its prices)');
  for (const [flag, , doc] of listing) list.option(flag, doc);
  list.action(async (id: string, _o, cmd: Command) => {
    const f: Flags = cmd.optsWithGlobals();
    const body: Row = {};
    for (const [, key] of listing) if (f[key] !== undefined) body[key] = number(String(f[key]));
    const r = await connect(f).listMachine(machineId(id), body);
    say(f, r, text(r.msg ?? `Machine ${id} listed.`));
  });

  group(program, 'unlist', 'take resources off the market')
    .command('machine <id>')
    .description('hide the machine from search; running rentals continue')
    .action(async (id: string, _o, cmd: Command) => {
      const r = await connect(cmd.optsWithGlobals()).unlistMachine(machineId(id));
      say(cmd.optsWithGlobals(), r, text(r.msg ?? `Machine ${id} unlisted.`));
    });

  group(program, 'schedule', 'schedule events')
    .command('maint <id>')
    .description('schedule a maintenance window; offers are hidden during it')
    .requiredOption('--sdate <t>', 'start, epoch seconds')
    .requiredOption('--duration <hours>', 'length in hours')
    .option('--maintenance_category <c>', 'power | internet | disk | gpu | software | other', 'other')
    .option('--maintenance_reason <text>', 'what the renters are told')
    .action(async (id: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).scheduleMaintenance(machineId(id), {
        sdate: number(String(f.sdate)),
        duration: number(String(f.duration)),
        maintenance_category: String(f.maintenance_category),
        ...(f.maintenance_reason !== undefined && { maintenance_reason: String(f.maintenance_reason) }),
      });
      const start = new Date(number(String(f.sdate)) * 1000).toISOString().slice(0, 16).replace('T', ' ');
      say(f, r, `Maintenance of machine ${id} scheduled: ${start} UTC for ${String(f.duration)} h (${String(f.maintenance_category)}).`);
    });

  group(program, 'cancel', 'cancel scheduled events')
    .command('maint <id>')
    .description('cancel the maintenance window of a machine')
    .action(async (id: string, _o, cmd: Command) => {
      const r = await connect(cmd.optsWithGlobals()).cancelMaintenance(machineId(id));
      say(cmd.optsWithGlobals(), r, text(r.msg ?? `Maintenance of machine ${id} cancelled.`));
    });

  group(program, 'set', 'set properties')
    .command('min-bid <id>')
    .description('minimum bid price of a machine')
    .requiredOption('--price <p>', '$ per GPU per hour')
    .action(async (id: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).setMinBid(machineId(id), number(String(f.price)));
      say(f, r, `Minimum bid of machine ${id}: $${number(String(f.price)).toFixed(4)} per GPU per hour.`);
    });

  // The server refuses with its reason while the agent is connected or other accounts rent on the machine.
  group(program, 'delete', 'delete resources')
    .command('machine <id>')
    .description('remove a machine whose host is gone for good (its agent stopped); your own instances on it end with it')
    .action(async (id: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const r = await connect(f).request<{ destroyed_instances: number[]; deleted_volumes: number[] }>(
        'POST',
        `/api/v0/machines/${machineId(id)}/force_delete/`,
      );
      const ended = [
        ...(r.destroyed_instances.length > 0 ? [`instances ${r.destroyed_instances.join(', ')} destroyed`] : []),
        ...(r.deleted_volumes.length > 0 ? [`volumes ${r.deleted_volumes.join(', ')} deleted`] : []),
      ];
      say(f, r, `Machine ${id} deleted${ended.length > 0 ? ` (with it: ${ended.join('; ')})` : ''}.`);
    });

  group(program, 'create', 'create resources')
    .command('host-token')
    .description('a token for `gantry agent` to join one machine to your account (shown once)')
    .option('--name <name>', 'a note to recognise it by')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const c = connect(f);
      const r = await c.createHostToken(f.name === undefined ? undefined : String(f.name));
      if (f.raw === true) json(r);
      else
        process.stdout.write(
          `Host token (shown once): ${r.token}\n\nOn the GPU machine, in a Gantry checkout:\n  npm install\n  npx gantry agent --server ${c.url} --token ${r.token}\n`,
        );
    });
}

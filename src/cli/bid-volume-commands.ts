import { Option, type Command } from 'commander';
import { connect, type GlobalFlags } from './connection.js';
import { gb, rate, usd, when } from './format.js';
import { say } from './human.js';
import { cliNumber, parseCliId, printJson, table, text, verbGroup } from './output.js';

type Flags = GlobalFlags & Record<string, string | boolean | undefined>;

/** vastai's `change bid` and `prepay instance` (interruptible and reserved instances) and `show volumes`. */
export function registerBidVolumeCommands(program: Command): void {
  const flags = (cmd: Command): Flags => cmd.optsWithGlobals();

  verbGroup(program, 'change', 'change resources')
    .command('bid <id>')
    .description('change the bid of an interruptible instance')
    .option('--price <dph>', '$ per hour for the instance (default: the lowest the machine takes)')
    .action(async (i: string, _o, cmd: Command) => {
      const f = flags(cmd);
      const price = typeof f.price === 'string' ? cliNumber(f.price, '--price') : null;
      const r = await connect(f).changeBid(parseCliId(i, 'instance'), price);
      say(f, r, text(r.msg ?? `Bid of instance ${i} changed.`));
    });

  verbGroup(program, 'prepay', 'pay ahead for resources')
    .command('instance <id> <amount>')
    .description('pay credit ahead for a reserved instance, for a discount')
    .action(async (i: string, amount: string, _o, cmd: Command) => {
      const f = flags(cmd);
      const dollars = cliNumber(amount, 'amount');
      const r = await connect(f).prepayInstance(parseCliId(i, 'instance'), dollars);
      // vastai's own line, with the months and the discount the server computed.
      const months = typeof r.timescale === 'number' ? Math.round(r.timescale * 1000) / 1000 : r.timescale;
      const discount = typeof r.discount_rate === 'number' ? Math.round(r.discount_rate * 1000) / 10 : r.discount_rate;
      say(f, r, `prepaid for ${text(months)} months of instance ${i} applying ${usd(dollars) ?? amount} credits for a discount of ${text(discount)}%`);
    });

  verbGroup(program, 'show', 'show resources')
    .command('volumes')
    .description('your volumes')
    .addOption(new Option('-t, --type <type>', 'local, network or all (every Gantry volume is local)').choices(['local', 'network', 'all']).default('all'))
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      const rows = await connect(f).listVolumes(f.type as 'local' | 'network' | 'all');
      if (f.raw === true) return printJson(rows);
      process.stdout.write(
        table(
          rows,
          [
            ['ID', 'id'],
            ['Name', 'label'],
            ['Disk', (r) => gb(r.disk_space)],
            ['Status', 'status'],
            ['Machine', 'machine_id'],
            ['Instances', (r) => (Array.isArray(r.instances) && r.instances.length > 0 ? r.instances.join(',') : null)],
            ['$/hr', (r) => rate(r.storage_cost_per_hour)],
            ['Cost so far', (r) => usd(r.storage_total_cost, 4)],
            ['Created', (r) => when(r.start_date)],
          ],
          'No volumes.',
        ),
      );
    });
}

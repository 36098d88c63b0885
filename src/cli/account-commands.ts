import type { Command } from 'commander';
import type { Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { cliNumber, parseCliId, printJson, table, text, verbGroup } from './output.js';
import { usd } from './format.js';
import { auditTable, chargeTable, earningsText, say, sshKeyTable, userText } from './human.js';

type Flags = GlobalFlags & Record<string, string | boolean | undefined>;

/** Account verbs of the vastai CLI (users, keys, env vars, SSH keys, credit, audit), plus `create user`. */
export function registerAccountCommands(program: Command): void {
  const create = verbGroup(program, 'create', 'create resources');
  const show = verbGroup(program, 'show', 'show resources');
  const del = verbGroup(program, 'delete', 'delete resources');
  const flags = (cmd: Command): Flags => cmd.optsWithGlobals();

  create
    .command('user <name>')
    .description("add a user (admin key) and print the new user's id and API key, shown only this once")
    .option('--email <email>', 'email (default <name>@localhost)')
    .option('--credit <dollars>', 'credit to start with')
    .option('--subaccount', 'a subaccount of the caller instead of a top-level user')
    .option('--raw', 'print {"id":...,"api_key":"..."} as JSON')
    .action(async (name: string, _o, cmd: Command) => {
      const f = flags(cmd);
      const r = await connect(f).createUser(name, {
        ...(typeof f.email === 'string' && { email: f.email }),
        ...(typeof f.credit === 'string' && { credit: cliNumber(f.credit, '--credit') }),
        subaccount: f.subaccount === true,
      });
      if (f.raw === true) printJson({ id: r.id, api_key: r.api_key });
      else process.stdout.write(`Created user ${String(r.username)} with id ${String(r.id)}.\nAPI key (shown once): ${String(r.api_key)}\n`);
    });

  create
    .command('api-key')
    .description('create an API key; permissions as Vast permission JSON')
    .requiredOption('--name <name>', 'name of the key')
    .option('--permission_file <file>', 'JSON file such as {"api": {"instance_read": {}}}')
    .option('--team_id <id>', 'a key acting for this team')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      const { readFile } = await import('node:fs/promises');
      const permissions = typeof f.permission_file === 'string' ? (JSON.parse(await readFile(f.permission_file, 'utf8')) as Row) : undefined;
      const r = await connect(f).createApiKey(String(f.name), permissions, typeof f.team_id === 'string' ? parseCliId(f.team_id, 'team') : undefined);
      say(f, r, `Created API key ${text(r.id)} '${String(f.name)}'.\nAPI key (shown once): ${text(r.key)}`);
    });
  show
    .command('api-keys')
    .description('list your API keys (never the keys themselves)')
    .option('--raw', 'JSON')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      const rows = await connect(f).listApiKeys();
      if (f.raw === true) printJson(rows);
      else
        process.stdout.write(
          table(rows, [
            ['ID', 'id'],
            ['Name', 'name'],
            ['Team', 'team_name'],
            ['Rights', 'rights'],
          ]) + '\n',
        );
    });
  del
    .command('api-key <id>')
    .description('revoke an API key')
    .action(async (id: string, _o, cmd: Command) =>
      say(flags(cmd), await connect(flags(cmd)).deleteApiKey(parseCliId(id, 'api key')), `Revoked API key ${id}.`),
    );

  create
    .command('env-var <key> <value>')
    .description('store an env var (secret), sealed at rest and injected into your instances')
    .action(async (key: string, value: string, _o, cmd: Command) => say(flags(cmd), await connect(flags(cmd)).setEnvVar(key, value), `Stored env var ${key}.`));
  verbGroup(program, 'update', 'update resources')
    .command('env-var <key> <value>')
    .description('change an env var')
    .action(async (key: string, value: string, _o, cmd: Command) =>
      say(flags(cmd), await connect(flags(cmd)).setEnvVar(key, value, 'update'), `Updated env var ${key}.`),
    );
  del
    .command('env-var <key>')
    .description('delete an env var')
    .action(async (key: string, _o, cmd: Command) => say(flags(cmd), await connect(flags(cmd)).deleteEnvVar(key), `Deleted env var ${key}.`));
  show
    .command('env-vars')
    .description('show your env vars, values included')
    .action(async (_o, cmd: Command) => {
      const vars = await connect(flags(cmd)).envVars();
      const rows = Object.entries(vars).map(([name, value]) => ({ name, value }));
      say(
        flags(cmd),
        vars,
        rows.length === 0
          ? 'No env vars.'
          : table(rows, [
              ['Name', 'name'],
              ['Value', 'value'],
            ]),
      );
    });

  create
    .command('ssh-key <key>')
    .description('add an SSH public key to your account (and to your current instances)')
    .action(async (key: string, _o, cmd: Command) => {
      const r = await connect(flags(cmd)).createSshKey(key);
      say(flags(cmd), r, `Added SSH key ${text(r.id)}.`);
    });
  show
    .command('ssh-keys')
    .description('list your SSH keys')
    .action(async (_o, cmd: Command) => {
      const rows = await connect(flags(cmd)).listSshKeys();
      say(flags(cmd), rows, () => sshKeyTable(rows));
    });
  del
    .command('ssh-key <id>')
    .description('delete an SSH key (and detach it everywhere)')
    .action(async (id: string, _o, cmd: Command) =>
      say(flags(cmd), await connect(flags(cmd)).deleteSshKey(parseCliId(id, 'ssh key')), `Deleted SSH key ${id}.`),
    );
  verbGroup(program, 'attach', 'attach resources')
    .command('ssh <instance_id> <key>')
    .description("write an SSH public key to the instance's authorized_keys")
    .action(async (id: string, key: string, _o, cmd: Command) => {
      const r = await connect(flags(cmd)).attachSshKey(parseCliId(id, 'instance'), key);
      say(flags(cmd), r, text(r.msg ?? `Attached the SSH key to instance ${id}.`));
    });
  verbGroup(program, 'detach', 'detach resources')
    .command('ssh <instance_id> <ssh_key_id>')
    .description('remove an SSH key from the instance')
    .action(async (id: string, keyId: string, _o, cmd: Command) => {
      const r = await connect(flags(cmd)).detachSshKey(parseCliId(id, 'instance'), parseCliId(keyId, 'ssh key'));
      say(flags(cmd), r, text(r.msg ?? `Detached SSH key ${keyId} from instance ${id}.`));
    });

  verbGroup(program, 'transfer', 'move things between accounts')
    .command('credit <recipient> <amount>')
    .description('send credit to a user (id, email or username); an admin adds credit')
    .action(async (recipient: string, amount: string, _o, cmd: Command) => {
      const dollars = cliNumber(amount, 'amount');
      const r = await connect(flags(cmd)).transferCredit(recipient, dollars);
      say(flags(cmd), r, `Sent ${usd(r.amount ?? dollars) ?? amount} to ${recipient} (user ${text(r.recipient_id)}, transfer ${text(r.transfer_id)}).`);
    });
  show
    .command('invoices')
    .description('credit added, sent and received')
    .action(async (_o, cmd: Command) => {
      const r = await connect(flags(cmd)).invoices();
      say(flags(cmd), r, () => chargeTable(r, 'invoices'));
    });
  show
    .command('charges')
    .description('what your instances cost, per stretch of GPU and storage time')
    .option('--tree', 'group per instance')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      const r = await connect(f).charges({ format: f.tree === true ? 'tree' : 'table' });
      say(f, r, () => chargeTable(r, 'charges'));
    });
  show
    .command('earnings [user_id]')
    .description("what your machines earned (another user's: admin keys)")
    .action(async (id: string | undefined, _o, cmd: Command) => {
      // As `vastai show earnings`: the caller's own unless a user is named.
      const r = await connect(flags(cmd)).machineEarnings(id === undefined ? 'me' : parseCliId(id, 'user'));
      say(flags(cmd), r, () => earningsText(r));
    });
  show
    .command('audit-logs')
    .description('state-changing calls of your account and its subaccounts, newest first')
    .option('--limit <n>', 'how many', '100')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      const rows = await connect(f).auditLogs(cliNumber(f.limit, '--limit'));
      say(f, rows, () => auditTable(rows));
    });
  show
    .command('user')
    .description('your account: balance, credit and what the key in use may do')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      const u = await connect(f).currentUser();
      // The key itself stays out of the output: the caller holds it already.
      const shown: Row = { ...u };
      delete shown.api_key;
      say(f, shown, () => userText(u));
    });
}

import type { Command } from 'commander';
import type { Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { parseCliId, printJson, table, verbGroup } from './output.js';

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
        ...(typeof f.credit === 'string' && { credit: Number(f.credit) }),
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
      printJson(await connect(f).createApiKey(String(f.name), permissions, typeof f.team_id === 'string' ? parseCliId(f.team_id, 'team') : undefined));
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
    .action(async (id: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).deleteApiKey(parseCliId(id, 'api key'))));

  create
    .command('env-var <key> <value>')
    .description('store an env var (secret), sealed at rest and injected into your instances')
    .action(async (key: string, value: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).setEnvVar(key, value)));
  verbGroup(program, 'update', 'update resources')
    .command('env-var <key> <value>')
    .description('change an env var')
    .action(async (key: string, value: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).setEnvVar(key, value, 'update')));
  del
    .command('env-var <key>')
    .description('delete an env var')
    .action(async (key: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).deleteEnvVar(key)));
  show
    .command('env-vars')
    .description('show your env vars, values included')
    .action(async (_o, cmd: Command) => printJson(await connect(flags(cmd)).envVars()));

  create
    .command('ssh-key <key>')
    .description('add an SSH public key to your account (and to your current instances)')
    .action(async (key: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).createSshKey(key)));
  show
    .command('ssh-keys')
    .description('list your SSH keys')
    .action(async (_o, cmd: Command) => printJson(await connect(flags(cmd)).listSshKeys()));
  del
    .command('ssh-key <id>')
    .description('delete an SSH key (and detach it everywhere)')
    .action(async (id: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).deleteSshKey(parseCliId(id, 'ssh key'))));
  verbGroup(program, 'attach', 'attach resources')
    .command('ssh <instance_id> <key>')
    .description("write an SSH public key to the instance's authorized_keys")
    .action(async (id: string, key: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).attachSshKey(parseCliId(id, 'instance'), key)));
  verbGroup(program, 'detach', 'detach resources')
    .command('ssh <instance_id> <ssh_key_id>')
    .description('remove an SSH key from the instance')
    .action(async (id: string, keyId: string, _o, cmd: Command) =>
      printJson(await connect(flags(cmd)).detachSshKey(parseCliId(id, 'instance'), parseCliId(keyId, 'ssh key'))),
    );

  verbGroup(program, 'transfer', 'move things between accounts')
    .command('credit <recipient> <amount>')
    .description('send credit to a user (id, email or username); an admin adds credit')
    .action(async (recipient: string, amount: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).transferCredit(recipient, Number(amount))));
  show
    .command('invoices')
    .description('credit added, sent and received')
    .action(async (_o, cmd: Command) => printJson(await connect(flags(cmd)).invoices()));
  show
    .command('charges')
    .description('what your instances cost, per stretch of GPU and storage time')
    .option('--tree', 'group per instance')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      printJson(await connect(f).charges({ format: f.tree === true ? 'tree' : 'table' }));
    });
  show
    .command('earnings <user_id>')
    .description('what your machines earned')
    .action(async (id: string, _o, cmd: Command) => printJson(await connect(flags(cmd)).machineEarnings(parseCliId(id, 'user'))));
  show
    .command('audit-logs')
    .description('state-changing calls of your account and its subaccounts, newest first')
    .option('--limit <n>', 'how many', '100')
    .action(async (_o, cmd: Command) => {
      const f = flags(cmd);
      printJson(await connect(f).auditLogs(Number(f.limit)));
    });
}

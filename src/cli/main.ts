import { Command } from 'commander';
import { GantryApiError } from '../sdk/client.js';
import { registerInstanceCommands } from './instance-commands.js';
import { registerUp } from './up-command.js';

const program = new Command('gantry')
  .description('Gantry: a self-hosted GPU cloud. Verbs follow the vastai CLI.')
  .option('--url <url>', 'API base URL (default: GANTRY_URL, then the URL `gantry up` wrote)')
  .option('--api-key <key>', 'API key (default: GANTRY_API_KEY, then the admin key file)')
  .option('--raw', 'print JSON')
  .showHelpAfterError();

registerUp(program);
registerInstanceCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof GantryApiError) process.stderr.write(`error: ${err.message}\n`);
  else if (err instanceof Error && (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') process.stderr.write(`error: no Gantry server answers there (${err.message}); is \`gantry up\` running?\n`);
  else process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

import { Command } from 'commander';
import { registerInstanceCommands } from './instance-commands.js';
import { registerUp } from './up-command.js';
import { registerAgent } from './agent-command.js';
import { registerHostCommands } from './host-commands.js';
import { registerServerlessCommands } from './serverless-commands.js';
import { registerAccountCommands } from './account-commands.js';
import { registerAicoreKey } from './aicore-key-command.js';
import { registerCatalogCommands } from './catalog-commands.js';
import { registerAicoreCommands } from './aicore-commands.js';
import { registerInferenceWorker } from './inference-worker-command.js';
import { registerMlCommands } from './ml-commands.js';
import { registerBidVolumeCommands } from './bid-volume-commands.js';
import { cliErrorText, trackCommand } from './cli-errors.js';
import { describeVerbs, packageVersion } from './help.js';

const program = new Command('gantry')
  .description('Gantry: a self-hosted GPU cloud. Verbs follow the vastai CLI.')
  .option('--url <url>', 'API base URL (default: GANTRY_URL, then the URL `gantry up` wrote)')
  .option('--api-key <key>', 'API key (default: GANTRY_API_KEY, then the admin key file)')
  .option('--raw', 'print JSON')
  .version(packageVersion(), '-V, --version', 'print the version of gantry')
  .showHelpAfterError();

registerUp(program);
registerInstanceCommands(program);
registerHostCommands(program);
registerServerlessCommands(program);
registerAccountCommands(program);
registerBidVolumeCommands(program);
registerAicoreKey(program);
registerCatalogCommands(program);
registerAicoreCommands(program);
registerMlCommands(program);
registerAgent(program);
registerInferenceWorker(program);
describeVerbs(program);
const running = trackCommand(program);

// As in the vastai CLI, everything after `--args` is the argument list, dashes included.
const argv = [...process.argv];
const at = argv.indexOf('--args');
if (at >= 0) argv.splice(at, argv.length - at, '--args-json', JSON.stringify(argv.slice(at + 1)));

program.parseAsync(argv).catch((err: unknown) => {
  process.stderr.write(`error: ${cliErrorText(err, program.opts(), running())}\n`);
  process.exit(1);
});

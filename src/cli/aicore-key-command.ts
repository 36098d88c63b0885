import type { Command } from 'commander';
import { connect, type GlobalFlags } from './connection.js';
import { printJson, verbGroup } from './output.js';

/** `gantry create aicore-key`: a service key JSON for SAP's SDKs (`AICORE_SERVICE_KEY`), printed as it is to be used. */
export function registerAicoreKey(program: Command): void {
  verbGroup(program, 'create', 'create resources')
    .command('aicore-key')
    .description('make a new API key and print it as an SAP AI Core service key (for AICORE_SERVICE_KEY)')
    .option('--resource-group <id>', 'a resource group to name in the key (created if missing)')
    .action(async (_o, cmd: Command) => {
      const f = cmd.optsWithGlobals<GlobalFlags & { resourceGroup?: string }>();
      printJson(await connect(f).request('POST', '/v2/admin/serviceKeys', f.resourceGroup !== undefined ? { resourceGroup: f.resourceGroup } : {}));
    });
}

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { printJson, table, text, verbGroup } from './output.js';

type Flags = GlobalFlags & { resourceGroup?: string; name?: string; executable?: string; scenario?: string; param?: string[]; artifact?: string[] };

/** `k=v` flags, repeatable. */
function collect(v: string, prior: string[] = []): string[] {
  return [...prior, v];
}

function pairs(list: readonly string[] | undefined, what: string): [string, string][] {
  return (list ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--${what} '${kv}' is not KEY=VALUE.`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

const rg = (f: Flags): Record<string, string> => ({ 'AI-Resource-Group': f.resourceGroup ?? 'default' });

/** AI Core's catalog over its own API (`/v2/...`): serving templates, scenarios, configurations. */
export function registerCatalogCommands(program: Command): void {
  const create = verbGroup(program, 'create', 'create resources');
  const show = verbGroup(program, 'show', 'show resources');
  const out = (f: Flags, rows: Row[], cols: [string, string | ((r: Row) => unknown)][], none: string): void =>
    f.raw === true ? printJson(rows) : void process.stdout.write(table(rows, cols, none));

  create
    .command('serving-template <files...>')
    .description('load AI Core serving templates (ServingTemplate YAML) as executables of your account')
    .action(async (files: string[], _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const body = { files: await Promise.all(files.map(async (name) => ({ name, content: await readFile(name, 'utf8') }))) };
      const r = await connect(f).request<{ resources: Row[] }>('POST', '/v2/admin/servingTemplates', body);
      out(
        f,
        r.resources,
        [
          ['Executable', 'id'],
          ['Scenario', 'scenarioId'],
          ['Version', 'versionId'],
          ['Name', 'name'],
        ],
        'No executables were loaded.',
      );
    });

  show
    .command('scenarios')
    .description('list AI Core scenarios and their executables')
    .option('--resource-group <rg>', 'AI Core resource group', 'default')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const c = connect(f);
      const scenarios = (await c.request<{ resources: Row[] }>('GET', '/v2/lm/scenarios', undefined, rg(f))).resources;
      const rows: Row[] = [];
      for (const s of scenarios) {
        const exes = (await c.request<{ resources: Row[] }>('GET', `/v2/lm/scenarios/${encodeURIComponent(String(s.id))}/executables`, undefined, rg(f)))
          .resources;
        rows.push({ ...s, executables: exes.map((e) => e.id).join(',') });
      }
      out(
        f,
        rows,
        [
          ['Scenario', 'id'],
          ['Name', 'name'],
          ['Executables', 'executables'],
          ['Modified', 'modifiedAt'],
        ],
        'No scenarios: load serving templates with `create serving-template`.',
      );
    });

  show
    .command('configurations')
    .description('list AI Core configurations of a resource group')
    .option('--resource-group <rg>', 'AI Core resource group', 'default')
    .option('--scenario <id>', 'only this scenario')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const q = f.scenario !== undefined ? `?scenarioId=${encodeURIComponent(f.scenario)}` : '';
      const r = await connect(f).request<{ resources: Row[] }>('GET', `/v2/lm/configurations${q}`, undefined, rg(f));
      out(
        f,
        r.resources,
        [
          ['ID', 'id'],
          ['Name', 'name'],
          ['Scenario', 'scenarioId'],
          ['Executable', 'executableId'],
          ['Parameters', (row) => (row.parameterBindings as { key: string; value: string }[]).map((b) => `${b.key}=${b.value}`).join(' ')],
          ['Created', 'createdAt'],
        ],
        'No configurations.',
      );
    });

  create
    .command('configuration')
    .description('create an AI Core configuration: an executable with its parameters and artifacts')
    .requiredOption('--name <name>', 'configuration name')
    .requiredOption('--executable <id>', 'executable id (the serving template name)')
    .requiredOption('--scenario <id>', 'scenario id')
    .option('--param <key=value>', 'a parameter binding (repeat)', collect)
    .option('--artifact <key=artifactId>', 'an input artifact binding (repeat)', collect)
    .option('--resource-group <rg>', 'AI Core resource group', 'default')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const body = {
        name: f.name,
        executableId: f.executable,
        scenarioId: f.scenario,
        parameterBindings: pairs(f.param, 'param').map(([key, value]) => ({ key, value })),
        inputArtifactBindings: pairs(f.artifact, 'artifact').map(([key, artifactId]) => ({ key, artifactId })),
      };
      const r = await connect(f).request('POST', '/v2/lm/configurations', body, rg(f));
      if (f.raw === true) printJson(r);
      else process.stdout.write(`${text(r.message)}: ${text(r.id)}\n`);
    });
}

import type { Command } from 'commander';
import type { GantryClient, Row } from '../sdk/client.js';
import { connect, type GlobalFlags } from './connection.js';
import { printJson, table, text } from './output.js';

type Flags = GlobalFlags & { resourceGroup?: string; status?: string; configuration?: string; ttl?: string; top?: string; order?: string };
type Columns = [string, string | ((r: Row) => unknown)][];

const rg = (f: Flags): Record<string, string> => ({ 'AI-Resource-Group': f.resourceGroup ?? 'default' });
const path = (uid: string): string => `/v2/lm/deployments/${encodeURIComponent(uid)}`;

const model = (r: Row): string => {
  const m = ((r.details as Row | undefined)?.resources as Row | undefined)?.backendDetails as { model?: { name?: string; version?: string } } | undefined;
  return m?.model?.name !== undefined ? `${m.model.name}${m.model.version !== undefined ? `:${m.model.version}` : ''}` : '';
};

const DEPLOYMENT_COLUMNS: Columns = [
  ['ID', 'id'],
  ['Status', 'status'],
  ['Target', 'targetStatus'],
  ['Configuration', (r) => `${text(r.configurationName)} (${text(r.configurationId)})`],
  ['Model', model],
  ['TTL', 'ttl'],
  ['URL', (r) => (r.deploymentUrl === '' ? null : r.deploymentUrl)],
];

/** A group's catalog verbs live where they always were; the `aicore` help points at them. */
const HELP_AFTER = `
AI Core's catalog has verbs of its own:
  gantry create serving-template FILE...   load ServingTemplate YAML as executables
  gantry show scenarios                    scenarios and their executables
  gantry create configuration ...          an executable with its parameters and artifacts
  gantry show configurations               configurations of a resource group
  gantry create aicore-key                 a service key for SAP's SDKs (AICORE_SERVICE_KEY)
Every verb takes --resource-group RG (default "default") and --raw (JSON).`;

/** One deployment id: a single PATCH or DELETE; several: one bulk PATCH, one line per item. */
async function change(c: GantryClient, f: Flags, ids: string[], target: 'STOPPED' | 'DELETED'): Promise<boolean> {
  if (ids.length === 1) {
    const uid = ids[0] as string;
    const r =
      target === 'STOPPED' ? await c.request('PATCH', path(uid), { targetStatus: 'STOPPED' }, rg(f)) : await c.request('DELETE', path(uid), undefined, rg(f));
    if (f.raw === true) printJson(r);
    else process.stdout.write(`${uid}: ${text(r.message)}\n`);
    return true;
  }
  const body = { deployments: ids.map((id) => ({ id, targetStatus: target })) };
  const r = await c.request<{ deployments: Row[] }>('PATCH', '/v2/lm/deployments', body, { ...rg(f), 'content-type': 'application/merge-patch+json' });
  if (f.raw === true) printJson(r);
  else {
    process.stdout.write(
      table(r.deployments, [
        ['ID', 'id'],
        ['Result', (x) => (x.error !== undefined ? `refused: ${text((x.error as Row).message)}` : x.message)],
      ]),
    );
  }
  return r.deployments.every((x) => x.error === undefined);
}

/** `gantry aicore ...`: AI Core deployments over Gantry's AI API (`/v2/lm/deployments`). */
export function registerAicoreCommands(program: Command): void {
  const aicore = program
    .command('aicore')
    .description('SAP AI Core deployments (the AI API): list, deploy, show, stop, delete, logs')
    .addHelpText('after', HELP_AFTER);
  const withGroup = (c: Command): Command => c.option('--resource-group <rg>', 'AI Core resource group', 'default');

  withGroup(aicore.command('deployments').description('list deployments: status, target, configuration, model, URL'))
    .option('--status <s>', 'only this status (PENDING, RUNNING, STOPPING, STOPPED, DEAD, UNKNOWN)')
    .option('--configuration <id>', 'only deployments of this configuration')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const q = new URLSearchParams();
      if (f.status !== undefined) q.set('status', f.status.toUpperCase());
      if (f.configuration !== undefined) q.set('configurationId', f.configuration);
      const qs = q.toString();
      const r = await connect(f).request<{ resources: Row[] }>('GET', `/v2/lm/deployments${qs === '' ? '' : `?${qs}`}`, undefined, rg(f));
      if (f.raw === true) printJson(r.resources);
      else process.stdout.write(table(r.resources, DEPLOYMENT_COLUMNS, 'No deployments.'));
    });

  withGroup(aicore.command('deploy').description('deploy a configuration'))
    .requiredOption('--configuration <id>', 'configuration id')
    .option('--ttl <ttl>', 'stop and delete after this long: 30m, 24h, 2d')
    .action(async (_o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const body = { configurationId: f.configuration, ...(f.ttl !== undefined ? { ttl: f.ttl } : {}) };
      const r = await connect(f).request('POST', '/v2/lm/deployments', body, rg(f));
      if (f.raw === true) printJson(r);
      else process.stdout.write(`${text(r.message)} Deployment ${text(r.id)}${r.ttl !== undefined && r.ttl !== null ? `, ttl ${text(r.ttl)}` : ''}.\n`);
    });

  withGroup(aicore.command('show').description('show AI Core resources').command('deployment <id>').description('one deployment, every field')).action(
    async (uid: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const d = await connect(f).request('GET', path(uid), undefined, rg(f));
      if (f.raw === true) printJson(d);
      else process.stdout.write(table([d], DEPLOYMENT_COLUMNS) + (d.statusMessage ? `\n${text(d.statusMessage)}\n` : ''));
    },
  );

  for (const [verb, target, doc] of [
    ['stop', 'STOPPED', 'stop deployments (new requests are refused, accepted ones finish); several ids: one bulk call'],
    ['delete', 'DELETED', 'delete stopped deployments; several ids: one bulk call'],
  ] as const) {
    withGroup(aicore.command(verb).description(`${verb} AI Core resources`).command('deployment <ids...>').description(doc)).action(
      async (ids: string[], _o, cmd: Command) => {
        const f: Flags = cmd.optsWithGlobals();
        // A refused item of a bulk call is an error for scripts, though the others were applied.
        if (!(await change(connect(f), f, ids, target))) process.exitCode = 1;
      },
    );
  }

  withGroup(aicore.command('logs <id>').description("a deployment's log lines (its workers' output)"))
    .option('--top <n>', 'at most N lines (1..5000)', '1000')
    .option('--order <o>', 'asc or desc', 'asc')
    .action(async (uid: string, _o, cmd: Command) => {
      const f: Flags = cmd.optsWithGlobals();
      const q = new URLSearchParams({ $top: f.top ?? '1000', $order: f.order ?? 'asc' });
      const r = await connect(f).request<{ data: { result: Row[] } }>('GET', `${path(uid)}/logs?${q.toString()}`, undefined, rg(f));
      if (f.raw === true) printJson(r.data.result);
      else for (const l of r.data.result) process.stdout.write(`${text(l.timestamp)} ${text(l.msg)}`);
    });
}

import { randomUUID } from 'node:crypto';
import type { ConfigurationRecord, KeyValue } from '../../domain/catalog/records.js';
import { checkBindings } from '../../domain/catalog/render.js';
import { checkSearch, filterConfigurations, page, type Page, type Search } from '../../domain/catalog/views.js';
import { GantryError } from '../../domain/errors.js';
import { requireResourceGroup } from '../accounts/resource-groups.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** Configurations: an executable with its parameter and artifact bindings, in a resource group of an account. */
export interface ConfigurationInput {
  readonly name: string;
  readonly executableId: string;
  readonly scenarioId: string;
  readonly parameterBindings: readonly KeyValue[];
  readonly inputArtifactBindings: readonly { readonly key: string; readonly artifactId: string }[];
}

export interface ConfigurationQuery {
  readonly scenarioId: string | null;
  readonly executableIds: readonly string[] | null;
  readonly search: Search;
}

function invalid(message: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { field });
}

export async function createConfiguration(ctx: ControlContext, p: Principal, rg: string, input: ConfigurationInput): Promise<ConfigurationRecord> {
  authorize(p, 'catalog.write');
  await requireResourceGroup(ctx, p, rg);
  if (input.name.trim() === '') throw new GantryError('MISSING_INPUT', 'Name the configuration.', { field: 'name' });
  const exe = await ctx.store.getExecutable(p.accountId, input.executableId);
  if (!exe) throw invalid(`No executable '${input.executableId}': load its serving template first.`, 'executableId');
  if (exe.scenarioId !== input.scenarioId)
    throw invalid(`Executable '${exe.id}' belongs to scenario '${exe.scenarioId}', not '${input.scenarioId}'.`, 'scenarioId');
  checkBindings(exe, input.parameterBindings, input.inputArtifactBindings);
  for (const [i, b] of input.inputArtifactBindings.entries()) {
    if (!(await ctx.store.getArtifact(p.accountId, rg, b.artifactId)))
      throw invalid(`No artifact '${b.artifactId}' in resource group '${rg}'.`, `inputArtifactBindings[${i}].artifactId`);
  }
  const c: ConfigurationRecord = {
    id: randomUUID(),
    accountId: p.accountId,
    resourceGroup: rg,
    name: input.name,
    executableId: exe.id,
    scenarioId: exe.scenarioId,
    parameterBindings: input.parameterBindings.map((b) => ({ key: b.key, value: b.value })),
    inputArtifactBindings: input.inputArtifactBindings.map((b) => ({ key: b.key, artifactId: b.artifactId })),
    createdAt: ctx.clock.now(),
  };
  await ctx.store.createConfiguration(c, p.isAdmin ? 0 : ctx.settings.maxConfigurationsPerAccount);
  return c;
}

async function matching(ctx: ControlContext, p: Principal, rg: string, q: ConfigurationQuery): Promise<ConfigurationRecord[]> {
  authorize(p, 'catalog.read');
  await requireResourceGroup(ctx, p, rg);
  checkSearch(q.search.text);
  return filterConfigurations(await ctx.store.listConfigurations(p.accountId, rg), q);
}

/** `count` is every match; `resources` the page of them. */
export async function listConfigurations(
  ctx: ControlContext,
  p: Principal,
  rg: string,
  q: ConfigurationQuery & { readonly page: Page },
): Promise<{ count: number; resources: ConfigurationRecord[] }> {
  const all = await matching(ctx, p, rg, q);
  return { count: all.length, resources: page(all, q.page) };
}

export async function countConfigurations(ctx: ControlContext, p: Principal, rg: string, q: ConfigurationQuery): Promise<number> {
  return (await matching(ctx, p, rg, q)).length;
}

/** Another group's or account's configuration is CONFIGURATION_NOT_FOUND. */
export async function getConfiguration(ctx: ControlContext, p: Principal, rg: string, id: string): Promise<ConfigurationRecord> {
  authorize(p, 'catalog.read');
  await requireResourceGroup(ctx, p, rg);
  const c = await ctx.store.getConfiguration(p.accountId, rg, id);
  if (!c) throw new GantryError('CONFIGURATION_NOT_FOUND', `No configuration '${id}' in resource group '${rg}'.`, { configurationId: id, resourceGroup: rg });
  return c;
}

import type { ExecutableRecord, ScenarioView, VersionView } from '../../domain/catalog/records.js';
import { scenariosOf, versionsOf } from '../../domain/catalog/views.js';
import { GantryError } from '../../domain/errors.js';
import { requireResourceGroup } from '../accounts/resource-groups.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** Scenarios, executables, versions and models: per account, the same from every resource group. */

async function executables(ctx: ControlContext, p: Principal, rg: string): Promise<ExecutableRecord[]> {
  authorize(p, 'catalog.read');
  await requireResourceGroup(ctx, p, rg);
  return ctx.store.listExecutables(p.accountId);
}

export async function listScenarios(ctx: ControlContext, p: Principal, rg: string): Promise<ScenarioView[]> {
  return scenariosOf(await executables(ctx, p, rg));
}

/** The scenario, or null when no executable declares it (for `$expand=scenario`). */
export async function findScenario(ctx: ControlContext, p: Principal, rg: string, id: string): Promise<ScenarioView | null> {
  return scenariosOf(await executables(ctx, p, rg)).find((s) => s.id === id) ?? null;
}

export async function getScenario(ctx: ControlContext, p: Principal, rg: string, id: string): Promise<ScenarioView> {
  const s = await findScenario(ctx, p, rg, id);
  if (s === null) throw new GantryError('SCENARIO_NOT_FOUND', `No scenario '${id}': no serving template declares it.`, { scenarioId: id });
  return s;
}

export async function listExecutables(
  ctx: ControlContext,
  p: Principal,
  rg: string,
  scenarioId: string,
  versionId: string | null,
): Promise<ExecutableRecord[]> {
  return (await executables(ctx, p, rg)).filter((e) => e.scenarioId === scenarioId && (versionId === null || e.versionId === versionId));
}

export async function getExecutable(ctx: ControlContext, p: Principal, rg: string, scenarioId: string, executableId: string): Promise<ExecutableRecord> {
  authorize(p, 'catalog.read');
  await requireResourceGroup(ctx, p, rg);
  const e = await ctx.store.getExecutable(p.accountId, executableId);
  if (!e || e.scenarioId !== scenarioId)
    throw new GantryError('EXECUTABLE_NOT_FOUND', `No executable '${executableId}' in scenario '${scenarioId}'.`, { scenarioId, executableId });
  return e;
}

export async function listVersions(
  ctx: ControlContext,
  p: Principal,
  rg: string,
  scenarioId: string,
  labelSelector: readonly string[],
): Promise<VersionView[]> {
  return versionsOf(await executables(ctx, p, rg), scenarioId, labelSelector);
}

export interface ModelView {
  readonly model: string;
  readonly executableId: string;
  readonly description: string;
  readonly versions: readonly { readonly name: string; readonly isLatest: boolean; readonly deprecated: boolean }[];
  readonly displayName: string;
}

/** Models of a scenario: the executables with a `modelName` parameter, by its default (and `modelVersion`'s). */
export async function listModels(ctx: ControlContext, p: Principal, rg: string, scenarioId: string): Promise<ModelView[]> {
  const out: ModelView[] = [];
  for (const e of await listExecutables(ctx, p, rg, scenarioId, null)) {
    const name = e.parameters.find((x) => x.name === 'modelName')?.default;
    if (name === undefined || name === null) continue;
    const version = e.parameters.find((x) => x.name === 'modelVersion')?.default ?? 'latest';
    out.push({
      model: name,
      executableId: e.id,
      description: e.description ?? e.name,
      versions: [{ name: version, isLatest: true, deprecated: false }],
      displayName: name,
    });
  }
  return out;
}

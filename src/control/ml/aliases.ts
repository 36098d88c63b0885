import { GantryError } from '../../domain/errors.js';
import { checkModelAlias, checkModelId } from '../../domain/ml/models.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { modelNotFound } from './models.js';
import { pipelinesReferencing } from './pipelines.js';

/**
 * Model aliases (Elasticsearch's `model_aliases`): a second name for a model that `_infer`, GET models
 * and ingest processors accept. Moving an alias to a new model (`reassign`) lets clients switch models
 * without changing the name they call.
 */

const invalid = (msg: string, field: string): GantryError => new GantryError('INVALID_ARGUMENT', msg, { field });

export async function putModelAlias(ctx: ControlContext, p: Principal, r: { modelId: string; alias: string; reassign: boolean }): Promise<void> {
  authorize(p, 'ml.write');
  if (r.alias === r.modelId) throw invalid(`model_alias [${r.alias}] cannot equal model_id [${r.modelId}]`, 'model_alias');
  checkModelAlias(r.alias);
  checkModelId(r.modelId);
  // A name must mean one thing to _infer: an alias never shadows a model id.
  if ((await ctx.store.getTrainedModel(p.accountId, r.alias)) !== undefined)
    throw invalid(`cannot use model_alias [${r.alias}] as it is the same as the model_id of another model`, 'model_alias');
  if ((await ctx.store.getTrainedModel(p.accountId, r.modelId)) === undefined) throw modelNotFound(r.modelId);
  const out = await ctx.store.putModelAlias(p.accountId, r.alias, r.modelId, r.reassign, ctx.clock.now());
  if (out === 'taken') {
    const held = (await ctx.store.listModelAliases(p.accountId)).find((a) => a.alias === r.alias)?.modelId ?? '?';
    throw invalid(
      `cannot assign model_alias [${r.alias}] to model_id [${r.modelId}] as model_alias already refers to [${held}]. Set parameter [reassign] to [true] if model_alias should be reassigned.`,
      'reassign',
    );
  }
  // The model may have been deleted between the check and the write: its alias must not outlive it.
  if ((await ctx.store.getTrainedModel(p.accountId, r.modelId)) === undefined) {
    await ctx.store.deleteModelAlias(p.accountId, r.alias, r.modelId);
    throw modelNotFound(r.modelId);
  }
  ctx.log.info({ accountId: p.accountId, modelId: r.modelId, alias: r.alias, reassign: r.reassign }, 'model alias set');
}

export async function deleteModelAlias(ctx: ControlContext, p: Principal, modelId: string, alias: string): Promise<void> {
  authorize(p, 'ml.write');
  const held = (await ctx.store.listModelAliases(p.accountId)).find((a) => a.alias === alias);
  if (held === undefined) throw new GantryError('MODEL_NOT_FOUND', `trained model alias [${alias}] could not be found`, { alias });
  if (held.modelId !== modelId) throw invalid(`trained model alias [${alias}] does not refer to provided model id [${modelId}]`, 'model_alias');
  if (!(await ctx.store.deleteModelAlias(p.accountId, alias, modelId)))
    throw new GantryError('MODEL_NOT_FOUND', `trained model alias [${alias}] could not be found`, { alias });
  ctx.log.info({ accountId: p.accountId, modelId, alias }, 'model alias deleted');
}

/** Each model's aliases, sorted. */
export async function aliasesByModel(ctx: Pick<ControlContext, 'store'>, accountId: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const a of await ctx.store.listModelAliases(accountId)) out.set(a.modelId, [...(out.get(a.modelId) ?? []), a.alias]);
  return out;
}

/** The model an alias names, or undefined. */
export async function aliasTarget(ctx: Pick<ControlContext, 'store'>, accountId: number, alias: string): Promise<string | undefined> {
  return (await ctx.store.listModelAliases(accountId)).find((a) => a.alias === alias)?.modelId;
}

/** The pipelines that name one of the model's aliases, per alias (only aliases with some). */
export async function pipelinesByAlias(
  ctx: Pick<ControlContext, 'store'>,
  accountId: number,
  modelId: string,
): Promise<{ alias: string; pipelines: string[] }[]> {
  const out: { alias: string; pipelines: string[] }[] = [];
  for (const alias of (await aliasesByModel(ctx, accountId)).get(modelId) ?? []) {
    const pipelines = await pipelinesReferencing(ctx, accountId, alias);
    if (pipelines.length > 0) out.push({ alias, pipelines });
  }
  return out;
}

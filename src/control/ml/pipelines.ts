import { GantryError } from '../../domain/errors.js';
import { matchIds, parseIdExpression } from '../../domain/ml/models.js';
import { checkPipelineBody, checkPipelineId, inferenceReferences } from '../../domain/ml/pipelines.js';
import type { PipelineRecord } from '../../domain/ml/records.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/**
 * The ids of the account's pipelines whose inference processors name `modelOrDeploymentId` (as a
 * model id, deployment id or alias: the processor's `model_id` is any of them). A stop or delete
 * that would break those pipelines is refused unless forced.
 */
export async function pipelinesReferencing(ctx: Pick<ControlContext, 'store'>, accountId: number, modelOrDeploymentId: string): Promise<string[]> {
  const all = await ctx.store.listPipelines(accountId);
  return all.filter((pl) => inferenceReferences(pl.body).includes(modelOrDeploymentId)).map((pl) => pl.id);
}

function pipelineMissing(id: string): GantryError {
  return new GantryError('PIPELINE_NOT_FOUND', `pipeline [${id}] is missing`, { id });
}

export async function putPipeline(ctx: ControlContext, p: Principal, id: string, body: unknown): Promise<PipelineRecord> {
  authorize(p, 'ml.write');
  checkPipelineId(id);
  const checked = checkPipelineBody(body);
  const pl = await ctx.store.putPipeline(p.accountId, id, checked, ctx.clock.now(), p.isAdmin ? 0 : ctx.settings.maxIngestPipelinesPerAccount);
  ctx.log.info({ accountId: p.accountId, pipeline: id }, 'ingest pipeline stored');
  return pl;
}

/**
 * The pipeline a simulation runs: the stored one named by `id`, or the inline one checked as a put
 * checks it (only inference processors). Authorized before anything of the body is looked at.
 */
export async function simulatedPipeline(ctx: ControlContext, p: Principal, id: string | null, inline: unknown): Promise<Readonly<Record<string, unknown>>> {
  authorize(p, 'ml.read');
  if (id !== null) {
    const [pl] = await getPipelines(ctx, p, id);
    if (pl === undefined) throw new GantryError('PIPELINE_NOT_FOUND', `pipeline [${id}] is missing`, { id });
    return pl.body;
  }
  if (inline === undefined || inline === null)
    throw new GantryError('MISSING_INPUT', '[pipeline] is required when no pipeline id is given', { field: 'pipeline' });
  return checkPipelineBody(inline);
}

/** Pipelines by id, csv or pattern (none: all); PIPELINE_NOT_FOUND when an id or pattern names none. */
export async function getPipelines(ctx: ControlContext, p: Principal, ids: string | null): Promise<PipelineRecord[]> {
  authorize(p, 'ml.read');
  const all = await ctx.store.listPipelines(p.accountId);
  if (ids === null) return all;
  const m = matchIds(
    parseIdExpression(ids),
    all.map((x) => x.id),
  );
  if (m.ids.length === 0) throw pipelineMissing(ids);
  const picked = new Set(m.ids);
  return all.filter((x) => picked.has(x.id));
}

/** Delete by id or pattern; PIPELINE_NOT_FOUND when nothing matches. */
export async function deletePipelines(ctx: ControlContext, p: Principal, ids: string): Promise<void> {
  authorize(p, 'ml.write');
  const all = await ctx.store.listPipelines(p.accountId);
  const m = matchIds(
    parseIdExpression(ids),
    all.map((x) => x.id),
  );
  if (m.ids.length === 0 || m.missing.length > 0) throw pipelineMissing(m.missing[0] ?? ids);
  await ctx.store.deletePipelines(p.accountId, m.ids);
  ctx.log.info({ accountId: p.accountId, pipelines: m.ids }, 'ingest pipelines deleted');
}

import { randomUUID } from 'node:crypto';
import { ARTIFACT_KINDS, type ArtifactKind, type ArtifactRecord, type KeyValue } from '../../domain/catalog/records.js';
import { CATALOG_ID } from '../../domain/catalog/serving-template.js';
import { checkSearch, filterArtifacts, page, type ArtifactFilter, type Page } from '../../domain/catalog/views.js';
import { GantryError } from '../../domain/errors.js';
import { checkLabels } from '../../domain/labels.js';
import { requireResourceGroup } from '../accounts/resource-groups.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** Artifacts: a named URL (a model, a dataset) in a resource group. Gantry records any URL; workers can open `file://` ones. */
export interface ArtifactInput {
  readonly name: string;
  readonly kind: string;
  readonly url: string;
  readonly scenarioId: string;
  readonly description: string | null;
  readonly labels: readonly KeyValue[];
}

function invalid(message: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { field });
}

export async function createArtifact(ctx: ControlContext, p: Principal, rg: string, input: ArtifactInput): Promise<ArtifactRecord> {
  authorize(p, 'catalog.write');
  await requireResourceGroup(ctx, p, rg);
  if (input.name.trim() === '') throw new GantryError('MISSING_INPUT', 'Name the artifact.', { field: 'name' });
  if (!ARTIFACT_KINDS.includes(input.kind as ArtifactKind)) throw invalid(`kind must be one of ${ARTIFACT_KINDS.join(', ')}.`, 'kind');
  if (!/^([a-z0-9-]+):\/\/.+/.test(input.url) || input.url.length > 1024) throw invalid('url must be a URL (scheme://…) of at most 1024 characters.', 'url');
  if (!CATALOG_ID.test(input.scenarioId)) throw invalid(`scenarioId must be 4-64 letters, digits, '_', '.' or '-'.`, 'scenarioId');
  checkLabels(input.labels);
  input.labels.forEach((l, i) => {
    if (!/^ext\.ai\.sap\.com\/[\w.-]+$/.test(l.key)) throw invalid(`Label key '${l.key}' must be ext.ai.sap.com/NAME.`, `labels[${i}].key`);
  });
  const now = ctx.clock.now();
  const a: ArtifactRecord = {
    id: randomUUID(),
    accountId: p.accountId,
    resourceGroup: rg,
    name: input.name,
    kind: input.kind as ArtifactKind,
    url: input.url,
    scenarioId: input.scenarioId,
    description: input.description,
    labels: input.labels.map((l) => ({ key: l.key, value: l.value })),
    createdAt: now,
    modifiedAt: now,
  };
  await ctx.store.createArtifact(a, p.isAdmin ? 0 : ctx.settings.maxArtifactsPerAccount);
  return a;
}

async function matching(ctx: ControlContext, p: Principal, rg: string, q: ArtifactFilter): Promise<ArtifactRecord[]> {
  authorize(p, 'catalog.read');
  await requireResourceGroup(ctx, p, rg);
  checkSearch(q.search.text);
  return filterArtifacts(await ctx.store.listArtifacts(p.accountId, rg), q);
}

export async function listArtifacts(
  ctx: ControlContext,
  p: Principal,
  rg: string,
  q: ArtifactFilter & { readonly page: Page },
): Promise<{ count: number; resources: ArtifactRecord[] }> {
  const all = await matching(ctx, p, rg, q);
  return { count: all.length, resources: page(all, q.page) };
}

export async function countArtifacts(ctx: ControlContext, p: Principal, rg: string, q: ArtifactFilter): Promise<number> {
  return (await matching(ctx, p, rg, q)).length;
}

export async function getArtifact(ctx: ControlContext, p: Principal, rg: string, id: string): Promise<ArtifactRecord> {
  authorize(p, 'catalog.read');
  await requireResourceGroup(ctx, p, rg);
  const a = await ctx.store.getArtifact(p.accountId, rg, id);
  if (!a) throw new GantryError('ARTIFACT_NOT_FOUND', `No artifact '${id}' in resource group '${rg}'.`, { artifactId: id, resourceGroup: rg });
  return a;
}

import {
  checkResourceGroupId,
  DEFAULT_RESOURCE_GROUP,
  matchesLabels,
  type LabelTerm,
  type ResourceGroupLabel,
  type ResourceGroupRecord,
} from '../../domain/account/resource-groups.js';
import { GantryError } from '../../domain/errors.js';
import { checkLabels } from '../../domain/labels.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** Resource groups of the caller's account; `default` exists for every account without being created. */

const notFound = (id: string): GantryError => new GantryError('RESOURCE_GROUP_NOT_FOUND', `No resource group ${JSON.stringify(id)}.`, { resourceGroupId: id });

/** `default` before it was ever stored: labels none, made with the account. */
async function implicitDefault(ctx: Pick<ControlContext, 'store'>, accountId: number): Promise<ResourceGroupRecord> {
  const a = await ctx.store.getAccount(accountId);
  return { accountId, id: DEFAULT_RESOURCE_GROUP, labels: [], createdAt: a?.createdAt ?? 0 };
}

async function find(ctx: Pick<ControlContext, 'store'>, accountId: number, id: string): Promise<ResourceGroupRecord | undefined> {
  const g = await ctx.store.getResourceGroup(accountId, id);
  if (g !== undefined || id !== DEFAULT_RESOURCE_GROUP) return g;
  return implicitDefault(ctx, accountId);
}

/**
 * Resolves when resource group `id` exists for the caller's account (`default` always does);
 * RESOURCE_GROUP_NOT_FOUND otherwise. Every use case that takes a resource group calls it first,
 * after `authorize`.
 */
export async function requireResourceGroup(ctx: Pick<ControlContext, 'store'>, p: Principal, id: string): Promise<void> {
  if (id === DEFAULT_RESOURCE_GROUP) return;
  if ((await ctx.store.getResourceGroup(p.accountId, id)) === undefined) throw notFound(id);
}

export async function createResourceGroup(
  ctx: ControlContext,
  p: Principal,
  r: { id: string; labels: readonly ResourceGroupLabel[] },
): Promise<ResourceGroupRecord> {
  authorize(p, 'resource-group.write');
  checkResourceGroupId(r.id);
  checkLabels(r.labels);
  if (r.id === DEFAULT_RESOURCE_GROUP)
    throw new GantryError('RESOURCE_GROUP_EXISTS', 'Resource group default exists for every account.', { resourceGroupId: r.id });
  const g: ResourceGroupRecord = { accountId: p.accountId, id: r.id, labels: r.labels, createdAt: ctx.clock.now() };
  await ctx.store.createResourceGroup(g, p.isAdmin ? 0 : ctx.settings.maxResourceGroupsPerAccount);
  return g;
}

/** Creates the group unless the account has it (a service key made for a group). */
export async function ensureResourceGroup(ctx: ControlContext, p: Principal, id: string): Promise<ResourceGroupRecord> {
  authorize(p, 'resource-group.write');
  checkResourceGroupId(id);
  const g = await find(ctx, p.accountId, id);
  if (g !== undefined) return g;
  try {
    return await createResourceGroup(ctx, p, { id, labels: [] });
  } catch (err) {
    // Made by a concurrent call in between: it exists, which is all that was asked.
    if (err instanceof GantryError && err.code === 'RESOURCE_GROUP_EXISTS') return (await find(ctx, p.accountId, id)) ?? Promise.reject(err);
    throw err;
  }
}

export interface ResourceGroupQuery {
  readonly labels: readonly LabelTerm[];
  readonly skip: number;
  readonly top: number | null;
}

/** The groups matching the selector, oldest first (`default` first), one page; `total` counts every match. */
export async function listResourceGroups(ctx: ControlContext, p: Principal, q: ResourceGroupQuery): Promise<{ total: number; groups: ResourceGroupRecord[] }> {
  authorize(p, 'resource-group.read');
  const stored = await ctx.store.listResourceGroups(p.accountId);
  const all = stored.some((g) => g.id === DEFAULT_RESOURCE_GROUP) ? stored : [await implicitDefault(ctx, p.accountId), ...stored];
  const matching = all.filter((g) => matchesLabels(g.labels, q.labels));
  return { total: matching.length, groups: matching.slice(q.skip, q.top === null ? undefined : q.skip + q.top) };
}

export async function getResourceGroup(ctx: ControlContext, p: Principal, id: string): Promise<ResourceGroupRecord> {
  authorize(p, 'resource-group.read');
  return (await find(ctx, p.accountId, id)) ?? Promise.reject(notFound(id));
}

/** Replace the labels (AI Core's PATCH replaces the list); on `default` this stores it for the first time. */
export async function relabelResourceGroup(ctx: ControlContext, p: Principal, id: string, labels: readonly ResourceGroupLabel[]): Promise<ResourceGroupRecord> {
  authorize(p, 'resource-group.write');
  checkLabels(labels);
  if (await ctx.store.setResourceGroupLabels(p.accountId, id, labels)) return (await find(ctx, p.accountId, id)) ?? Promise.reject(notFound(id));
  if (id !== DEFAULT_RESOURCE_GROUP) throw notFound(id);
  const g = { ...(await implicitDefault(ctx, p.accountId)), labels };
  try {
    // Unbounded: `default` is every account's, stored or not.
    await ctx.store.createResourceGroup(g);
  } catch (err) {
    // Stored by a concurrent relabel meanwhile: this one's labels win, as they came last.
    if (!(err instanceof GantryError && err.code === 'RESOURCE_GROUP_EXISTS')) throw err;
    await ctx.store.setResourceGroupLabels(p.accountId, id, labels);
  }
  return g;
}

export async function deleteResourceGroup(ctx: ControlContext, p: Principal, id: string): Promise<void> {
  authorize(p, 'resource-group.write');
  if (id === DEFAULT_RESOURCE_GROUP) throw new GantryError('RESOURCE_GROUP_PROTECTED', 'Resource group default cannot be deleted.', { resourceGroupId: id });
  if ((await ctx.store.getResourceGroup(p.accountId, id)) === undefined) throw notFound(id);
  // Deployments hold compute and are reached by their group: delete them first. (Configurations and
  // artifacts are records only; a group made again with the same id finds them again.)
  const held = (await ctx.store.listDeployments(p.accountId, { resourceGroup: id })).length;
  if (held > 0) {
    throw new GantryError('RESOURCE_GROUP_IN_USE', `Resource group ${id} still holds ${held} deployment(s); delete them first.`, {
      resourceGroupId: id,
      deployments: held,
    });
  }
  if (!(await ctx.store.deleteResourceGroup(p.accountId, id))) throw notFound(id);
}

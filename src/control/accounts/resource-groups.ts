import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';

/**
 * STUB (helper "aicore-auth" replaces): resolves when resource group `id` exists for the caller's
 * account (`default` always does); RESOURCE_GROUP_NOT_FOUND otherwise. Every use case that takes a
 * resource group calls it first, after `authorize`.
 */
export async function requireResourceGroup(_ctx: Pick<ControlContext, 'store'>, _p: Principal, _id: string): Promise<void> {}

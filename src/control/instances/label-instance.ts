import { MAX_LABEL_CHARS } from '../../domain/instance/create.js';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, type Principal } from '../principal.js';

export async function labelInstance(ctx: ControlContext, p: Principal, id: number, label: string | null): Promise<void> {
  authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  if (label !== null && label.length > MAX_LABEL_CHARS)
    throw new GantryError('INVALID_ARGUMENT', `label must be at most ${MAX_LABEL_CHARS} characters.`, { field: 'label' });
  await ctx.store.setLabel(id, label);
  // Shown wherever the instance is: other replicas' listings and the consoles' push channel hear it now.
  ctx.store.changes.publish('instance-status', id);
}

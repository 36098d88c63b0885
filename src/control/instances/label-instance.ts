import { checkLabel } from '../../domain/instance/create.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, type Principal } from '../principal.js';

export async function labelInstance(ctx: ControlContext, p: Principal, id: number, label: string | null): Promise<void> {
  authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  checkLabel(label);
  await ctx.store.setLabel(id, label);
  // Shown wherever the instance is: other replicas' listings and the consoles' push channel hear it now.
  ctx.store.changes.publish('instance-status', id);
}

import { checkLabel } from '../../domain/instance/create.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, type Principal } from '../principal.js';

/** `checkOnly`: the caller's right and the label are checked, nothing is written (a change that also labels checks first). */
export async function labelInstance(ctx: ControlContext, p: Principal, id: number, label: string | null, o: { checkOnly?: boolean } = {}): Promise<void> {
  authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  checkLabel(label);
  if (o.checkOnly === true) return;
  await ctx.store.setLabel(id, label);
  // Shown wherever the instance is: other replicas' listings and the consoles' push channel hear it now.
  ctx.store.changes.publish('instance-status', id);
}

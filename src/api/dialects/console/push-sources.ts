import type { PushSource } from './events.js';
import { vastInstance } from '../vast/map.js';
import { deploymentPush } from './deployment-push.js';

/** Instances, as the Vast listing row the Instances page renders (`GET /api/v0/instances/`); a destroyed one is gone (row null). */
const instances: PushSource = {
  topic: 'instance',
  feeds: ['instance', 'instance-status'],
  action: 'instance.read',
  kind: 'instance',
  load: async (control, id) => {
    const v = await control.instanceView(id);
    if (v === undefined) return undefined;
    return { accountId: v.instance.accountId, row: v.instance.status === 'destroyed' ? null : vastInstance(v, control.ctx.clock.now()) };
  },
};

/** What the console's push channel tells of: one entry per kind of record (events.ts does the rest). */
export const PUSH_SOURCES: readonly PushSource[] = [instances, deploymentPush];

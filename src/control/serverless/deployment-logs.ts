import type { ControlContext } from '../context.js';
import { hostsReached } from '../reach-host.js';
import type { Principal } from '../principal.js';
import { ownDeployment, type DeploymentRef } from './deployments.js';

export interface DeploymentLogLine {
  readonly at: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  readonly workerId: number;
}

export interface DeploymentLogQuery {
  readonly top: number;
  readonly since: number;
  readonly until: number;
  readonly order: 'asc' | 'desc';
}

/**
 * What a deployment's workers printed between `since` and `until`, from their hosts, merged by time:
 * the newest `top` lines, in the order asked. A worker whose host is away is skipped (its lines
 * come back when it does); destroyed workers' output is gone with them.
 */
export async function deploymentLogs(ctx: ControlContext, p: Principal, ref: DeploymentRef, q: DeploymentLogQuery): Promise<DeploymentLogLine[]> {
  const d = await ownDeployment(ctx, p, ref, 'serverless.read');
  const workers = await ctx.store.listWorkers(d.endpointId);
  const all: DeploymentLogLine[] = [];
  const reach = hostsReached(ctx);
  await Promise.all(
    workers.map(async (w) => {
      const host = await reach(w.machineId).catch(() => undefined);
      if (host === undefined) return;
      const lines = await host.logLines(w.id, { tail: q.top, since: q.since, until: q.until }).catch(() => []);
      for (const l of lines) all.push({ at: l.at, stream: l.stream, text: l.text, workerId: w.id });
    }),
  );
  all.sort((a, b) => a.at - b.at || a.workerId - b.workerId);
  const newest = all.slice(-q.top);
  return q.order === 'asc' ? newest : newest.reverse();
}

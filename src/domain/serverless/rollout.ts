import { GantryError } from '../errors.js';

/** What the serverless loop needs of a workergroup to plan a change of configuration. */
export interface GroupRevision {
  readonly id: number;
  /** The configuration it was made from; null for workergroups made directly (Vast's). */
  readonly revision: string | null;
}

export interface RolloutPlan<G extends GroupRevision> {
  /** The oldest live workergroup: the one that serves until a change completes. */
  readonly serving: G | undefined;
  /** The workergroup of the wanted configuration, while it is not the serving one; null: no change under way. */
  readonly target: G | null;
  /** Workergroups neither serving nor wanted (a change given up for another, or a rollback): to be retired. */
  readonly retire: readonly G[];
}

/**
 * Which workergroups a deployment keeps, from what it wants (its configuration) and what it has.
 * Only the serverless loop acts on the plan, under the endpoint's lease, so a change requested
 * during a pass is never undone by it: the request only adds the wanted group and records the
 * wish. An endpoint that wants no configuration (Vast's) keeps every workergroup.
 */
export function planRollout<G extends GroupRevision>(groups: readonly G[], wanted: string | null): RolloutPlan<G> {
  const serving = groups[0];
  if (serving === undefined || wanted === null) return { serving, target: null, retire: [] };
  if (serving.revision === wanted) return { serving, target: null, retire: groups.slice(1) };
  const target = [...groups].reverse().find((g) => g.revision === wanted) ?? null;
  return { serving, target, retire: groups.slice(1).filter((g) => g !== target) };
}

/**
 * A deployment's workergroups are its own: the workergroup API does not delete one (the deployment, left with none,
 * could then only be deleted and made again). Its own change of configuration retires them.
 */
export function deploymentOwnsGroup(workergroupId: number, endpointId: number, deploymentId: number): GantryError {
  return new GantryError(
    'DEPLOYMENT_MANAGED',
    `Workergroup ${workergroupId} is deployment ${deploymentId}'s: it goes with its deployment (change or delete the deployment instead).`,
    { workergroupId, endpointId, deploymentId },
  );
}

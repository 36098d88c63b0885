/**
 * One autoscaler decision the serverless loop acted on, kept for people (the console's Deployments
 * page): what it changed, or why a change was refused, with the policy's reason (autoscale.ts).
 */
export interface ScaleDecisionRecord {
  readonly endpointId: number;
  readonly at: number;
  readonly activeTarget: number;
  readonly totalTarget: number;
  /** Inactive workers started, new ones asked for, active ones stopped, broken or spare ones destroyed. */
  readonly started: number;
  readonly created: number;
  readonly stopped: number;
  readonly destroyed: number;
  readonly reason: string;
  /** Why what it asked for could not be done (no offer matched, suspended); null: done. */
  readonly refused: string | null;
}

/** Decisions kept per endpoint; older ones are deleted as new ones arrive. */
export const SCALE_DECISIONS_KEPT = 20;

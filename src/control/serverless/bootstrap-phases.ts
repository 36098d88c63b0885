import { bootstrapPhase, type BootstrapPhase } from '../../domain/serverless/bootstrap-phase.js';
import type { ControlContext } from '../context.js';
import { hostsReached, tailWithin } from '../reach-host.js';
import { runsBootstrap } from './code-worker.js';
import type { WorkerInfo } from './workers.js';

/** Output lines read to find a loading worker's bootstrap phase: the worker library's reports are long. */
const TAIL_LINES = 200;
/** How long a listing waits for a phase read through another replica (best effort: null past it). */
const VIA_REPLICA_MS = 2_000;

/** A worker as listed, with its bootstrap phase when it runs Vast's bootstrap (a code deployment's worker). */
export type ListedWorker = WorkerInfo & { readonly bootstrapPhase?: BootstrapPhase | null };

/**
 * The bootstrap phase of each code deployment worker (bootstrap-phase.ts): a ready one is `ready`; a
 * loading one's is read from its output's tail through its host, bounded, so a slow or absent host
 * leaves it null instead of holding the listing. Other workers are as they were.
 */
export async function withBootstrapPhases(ctx: ControlContext, workers: readonly WorkerInfo[]): Promise<ListedWorker[]> {
  const reach = hostsReached(ctx);
  return Promise.all(
    workers.map(async (w): Promise<ListedWorker> => {
      if (!runsBootstrap(w.instance)) return w;
      if (w.phase === 'ready') return { ...w, bootstrapPhase: 'ready' };
      if (w.instance.status !== 'running') return { ...w, bootstrapPhase: null };
      const host = await reach(w.instance.machineId).catch(() => undefined);
      const bound = host?.viaReplica === true ? Math.min(VIA_REPLICA_MS, ctx.settings.agentCallTimeoutMs) : ctx.settings.agentCallTimeoutMs;
      const output = await tailWithin(host, w.instance.id, TAIL_LINES, bound);
      return { ...w, bootstrapPhase: output === null ? null : bootstrapPhase(output) };
    }),
  );
}

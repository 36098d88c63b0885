import type { FastifyInstance } from 'fastify';
import type { EdgeDeps } from '../../edge/dialect.js';

/** STUB: deployments, bulk, logs, meta, inference. */
export async function aicoreDeploymentRoutes(_app: FastifyInstance, _deps: EdgeDeps): Promise<void> {}

import type { FastifyInstance } from 'fastify';
import type { EdgeDeps } from '../../edge/dialect.js';

/** STUB (helper "aicore-catalog" replaces): scenarios, executables, versions, configurations, artifacts, applications. */
export function aicoreCatalogRoutes(_app: FastifyInstance, _deps: EdgeDeps): void {}

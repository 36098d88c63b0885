import { MAX_TTL_MS } from '../../../domain/serverless/ttl.js';

/**
 * `GET /v2/lm/meta`: what this AI API offers. Clients (SAP AI Launchpad among them) hide what is
 * advertised false; Gantry serves deployments with ttl, logs and bulk changes, and no executions.
 */
export function aicoreMeta(ttlMinimumMs: number): Record<string, unknown> {
  return {
    runtimeIdentifier: 'gantry',
    runtimeApiVersion: '2.21.0',
    description: 'Gantry: SAP AI Core AI API for deployments on self-hosted GPU machines',
    aiApi: {
      version: '2.18.0',
      capabilities: {
        multitenant: true,
        shareable: true,
        staticDeployments: true,
        userDeployments: true,
        userExecutions: false,
        timeToLiveDeployments: true,
        executionSchedules: false,
        logs: { deployments: true, executions: false },
        bulkUpdates: { deployments: true, executions: false },
      },
      limits: {
        deployments: { maxRunningCount: -1 },
        executions: { maxRunningCount: 0 },
        timeToLiveDeployments: { minimum: `${Math.ceil(ttlMinimumMs / 60_000)}m`, maximum: `${MAX_TTL_MS / 86_400_000}d` },
      },
    },
    extensions: { resourceGroups: { version: '1.2.0' } },
  };
}

import type { EndpointAction, EndpointStatus } from '../../domain/serverless/lifecycle.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { awaitEndpointStatus } from './await-endpoint.js';
import { changeEndpoint, changeEndpoints, type EndpointChangeOptions, type StopRequest } from './change-endpoint.js';
import * as deployments from './deployments.js';
import * as endpoints from './endpoints.js';
import { resolveEndpoint, routingView } from './routing.js';
import * as groups from './workergroups.js';
import { ownWorkergroup } from './workergroups.js';
import { recordWorkerStatus, workersOf, type WorkerStatusInput } from './workers.js';

/** The serverless use cases bound to one context: what the dialects and the gateway call. */
export function serverlessUseCases(ctx: ControlContext) {
  return {
    createEndpoint: (p: Principal, r: endpoints.NewEndpointRequest) => endpoints.createEndpoint(ctx, p, r),
    listEndpoints: (p: Principal) => endpoints.listEndpoints(ctx, p),
    showEndpoint: (p: Principal, id: number) => endpoints.ownEndpoint(ctx, p, id, 'serverless.read'),
    findEndpoint: (p: Principal, name: string) => endpoints.findEndpoint(ctx, p, name),
    updateEndpoint: (p: Principal, id: number, u: endpoints.EndpointUpdate) => endpoints.updateEndpoint(ctx, p, id, u),
    changeEndpoint: (p: Principal, id: number, action: EndpointAction, o?: EndpointChangeOptions) => changeEndpoint(ctx, p, id, action, o),
    /** One result per id (AI Core's bulk PATCH). */
    changeEndpoints: (p: Principal, ids: readonly number[], action: EndpointAction, o?: EndpointChangeOptions) => changeEndpoints(ctx, p, ids, action, o),
    /** The endpoint once its status is one of `wanted`, or `timedOut` with the last state seen (Elasticsearch's wait_for). */
    awaitEndpointStatus: (p: Principal, id: number, wanted: readonly EndpointStatus[], timeoutMs: number) => awaitEndpointStatus(ctx, p, id, wanted, timeoutMs),
    endpointWorkers: async (p: Principal, id: number) => workersOf(ctx, (await endpoints.ownEndpoint(ctx, p, id, 'serverless.read')).id),

    createWorkergroup: (p: Principal, endpointId: number, r: groups.WorkergroupInput) => groups.createWorkergroup(ctx, p, endpointId, r),
    listWorkergroups: (p: Principal) => groups.listWorkergroups(ctx, p),
    showWorkergroup: (p: Principal, id: number) => ownWorkergroup(ctx, p, id, 'serverless.read'),
    updateWorkergroup: (p: Principal, id: number, u: Parameters<typeof groups.updateWorkergroup>[3]) => groups.updateWorkergroup(ctx, p, id, u),
    deleteWorkergroup: (p: Principal, id: number) => groups.deleteWorkergroup(ctx, p, id),
    workergroupWorkers: async (p: Principal, id: number) => {
      const wg = await ownWorkergroup(ctx, p, id, 'serverless.read');
      return (await workersOf(ctx, wg.endpointId)).filter((w) => w.instance.workergroupId === id);
    },

    createDeployment: (p: Principal, r: deployments.NewDeploymentRequest) => deployments.createDeployment(ctx, p, r),
    listDeployments: (p: Principal) => deployments.listDeployments(ctx, p),
    showDeployment: (p: Principal, id: number) => deployments.showDeployment(ctx, p, id),
    stopDeployment: (p: Principal, id: number, s: StopRequest) => deployments.stopDeployment(ctx, p, id, s),
    startDeployment: (p: Principal, id: number) => deployments.startDeployment(ctx, p, id),
    deleteDeployment: (p: Principal, id: number, force: boolean) => deployments.deleteDeployment(ctx, p, id, force),

    recordWorkerStatus: (s: WorkerStatusInput) => recordWorkerStatus(ctx, s),
    resolveEndpoint: (name: string, key: string | null) => resolveEndpoint(ctx, name, key),
    routingView: (endpointId: number) => routingView(ctx, endpointId),
  };
}

export type ServerlessUseCases = ReturnType<typeof serverlessUseCases>;

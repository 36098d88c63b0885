import { withBootstrapPhases } from './bootstrap-phases.js';
import type { EndpointAction, EndpointStatus } from '../../domain/serverless/lifecycle.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { awaitEndpointStatus } from './await-endpoint.js';
import { changeEndpoint, changeEndpoints, updateEndpointAndState, type EndpointChangeOptions, type StopRequest } from './change-endpoint.js';
import * as deployments from './deployments.js';
import * as endpoints from './endpoints.js';
import { resolveDeployment, resolveEndpoint, routingView } from './routing.js';
import type { DeploymentRef, DeploymentScope } from './deployments.js';
import { deploymentLogs, type DeploymentLogQuery } from './deployment-logs.js';
import { changeDeployments, reconfigureDeployment, type DeploymentItem, type DeploymentSpec } from './deployment-changes.js';
import * as groups from './workergroups.js';
import { ownWorkergroup } from './workergroups.js';
import { stopDeploymentAndWait, type StopAndWaitOptions } from './stop-and-wait.js';
import { inferenceStats } from './inference-stats.js';
import { acknowledgeWorkerRequests, recordWorkerStatus, workersOf, type WorkerStatusInput } from './workers.js';
import { workerLogs } from './worker-logs.js';
import { cancelWorkerUpdate, updateWorkers } from './update-workers.js';
import { reportAddressEndpoint } from './report-address.js';
import { codeVersions, putCodeDeployment, recordCodeHeartbeat, type CodeDeploymentConfig } from './code-deployments.js';
import { checkUploadToken, codeDownloadToken, readCodeBlob, uploadCode } from './code-uploads.js';

/** The serverless use cases bound to one context: what the dialects and the gateway call. */
export function serverlessUseCases(ctx: ControlContext) {
  return {
    createEndpoint: (p: Principal, r: endpoints.NewEndpointRequest) => endpoints.createEndpoint(ctx, p, r),
    listEndpoints: (p: Principal) => endpoints.listEndpoints(ctx, p),
    showEndpoint: (p: Principal, id: number) => endpoints.ownEndpoint(ctx, p, id, 'serverless.read'),
    findEndpoint: (p: Principal, name: string) => endpoints.findEndpoint(ctx, p, name),
    /** With `next`, the stop or start too (checked before the update writes anything). */
    updateEndpoint: (p: Principal, id: number, u: endpoints.EndpointUpdate) => updateEndpointAndState(ctx, p, id, u),
    changeEndpoint: (p: Principal, id: number, action: EndpointAction, o?: EndpointChangeOptions) => changeEndpoint(ctx, p, id, action, o),
    /** One result per id (AI Core's bulk PATCH). */
    changeEndpoints: (p: Principal, ids: readonly number[], action: EndpointAction, o?: EndpointChangeOptions) => changeEndpoints(ctx, p, ids, action, o),
    /** The endpoint once its status is one of `wanted`, or `timedOut` with the last state seen (Elasticsearch's wait_for). */
    awaitEndpointStatus: (p: Principal, id: number, wanted: readonly EndpointStatus[], timeoutMs: number) => awaitEndpointStatus(ctx, p, id, wanted, timeoutMs),
    endpointWorkers: async (p: Principal, id: number) => workersOf(ctx, (await endpoints.ownEndpoint(ctx, p, id, 'serverless.read')).id),
    /** The endpoint's workers as a listing shows them: a code deployment's with their bootstrap phase. */
    listedWorkers: async (p: Principal, id: number) =>
      withBootstrapPhases(ctx, await workersOf(ctx, (await endpoints.ownEndpoint(ctx, p, id, 'serverless.read')).id)),

    createWorkergroup: (p: Principal, endpointId: number, r: groups.WorkergroupInput) => groups.createWorkergroup(ctx, p, endpointId, r),
    listWorkergroups: (p: Principal) => groups.listWorkergroups(ctx, p),
    showWorkergroup: (p: Principal, id: number) => ownWorkergroup(ctx, p, id, 'serverless.read'),
    updateWorkergroup: (p: Principal, id: number, u: Parameters<typeof groups.updateWorkergroup>[3]) => groups.updateWorkergroup(ctx, p, id, u),
    deleteWorkergroup: (p: Principal, id: number) => groups.deleteWorkergroup(ctx, p, id),
    workergroupWorkers: async (p: Principal, id: number) => {
      const wg = await ownWorkergroup(ctx, p, id, 'serverless.read');
      return withBootstrapPhases(
        ctx,
        (await workersOf(ctx, wg.endpointId)).filter((w) => w.instance.workergroupId === id),
      );
    },
    /** The last lines of an endpoint's or a workergroup's workers (Vast's get_endpoint_logs, get_workergroup_logs). */
    workerLogs: (p: Principal, of: { endpointId: number } | { workergroupId: number }, tail: number | null) => workerLogs(ctx, p, of, tail),

    createDeployment: (p: Principal, r: deployments.NewDeploymentRequest) => deployments.createDeployment(ctx, p, r),
    listDeployments: (p: Principal, o?: Partial<DeploymentScope>) => deployments.listDeployments(ctx, p, o),
    showDeployment: (p: Principal, ref: DeploymentRef | number) => deployments.showDeployment(ctx, p, ref),
    stopDeployment: (p: Principal, ref: DeploymentRef | number, s: StopRequest, o?: { stopUnscheduled?: boolean; strict?: boolean }) =>
      deployments.stopDeployment(ctx, p, ref, s, o),
    /** Stop and return once its workers are at rest (optionally deleted too), with what happened to the held requests (Elasticsearch's stop). */
    stopDeploymentAndWait: (p: Principal, ref: DeploymentRef | number, s: StopRequest, o: StopAndWaitOptions) => stopDeploymentAndWait(ctx, p, ref, s, o),
    /** Inference counters per deployment and per worker, as this replica's gateway counted them (Elasticsearch's stats). */
    inferenceStats: (p: Principal, ref: DeploymentRef | number) => inferenceStats(ctx, p, ref),
    startDeployment: (p: Principal, ref: DeploymentRef | number, o?: { strict?: boolean }) => deployments.startDeployment(ctx, p, ref, o),
    /** Delete one that runs nothing (unknown, stopped, failed), by AI Core's table: AI Core's delete. */
    removeDeployment: (p: Principal, ref: DeploymentRef) => deployments.deleteDeployment(ctx, p, ref, { force: false, stopFirst: false, strict: true }),
    /** Stop and delete many of one scope, one result per item (AI Core's bulk PATCH). */
    changeDeployments: (p: Principal, scope: DeploymentScope, items: readonly DeploymentItem[], s: StopRequest) => changeDeployments(ctx, p, scope, items, s),
    /** Roll over to another configuration with no failed request. */
    reconfigureDeployment: (p: Principal, ref: DeploymentRef, spec: DeploymentSpec) => reconfigureDeployment(ctx, p, ref, spec),
    /** What its workers printed, by time (AI Core's deployment logs). */
    deploymentLogs: (p: Principal, ref: DeploymentRef, q: DeploymentLogQuery) => deploymentLogs(ctx, p, ref, q),
    /** Vast's delete: stop and delete in one call. */
    deleteDeployment: (p: Principal, id: number, force: boolean) => deployments.deleteDeployment(ctx, p, id, { force, stopFirst: true }),
    /** Vast's delete by name (and tag): every match, stopped and deleted; their ids. */
    deleteDeploymentsByName: (p: Principal, name: string, tag: string | null) => deployments.deleteDeploymentsByName(ctx, p, name, tag),
    /** Vast's `update workers`: replace a workergroup's workers one at a time (the serverless loop carries it out), or cancel that. */
    updateWorkers: (p: Principal, id: number) => updateWorkers(ctx, p, id),
    cancelWorkerUpdate: (p: Principal, id: number) => cancelWorkerUpdate(ctx, p, id),

    /** Code deployments (Vast's deployments SDK): PUT, versions, heartbeat, upload, download (decision 020). */
    putCodeDeployment: (p: Principal, c: CodeDeploymentConfig) => putCodeDeployment(ctx, p, c),
    codeVersions: (p: Principal, id: number) => codeVersions(ctx, p, id),
    recordCodeHeartbeat: (p: Principal, id: number) => recordCodeHeartbeat(ctx, p, id),
    /** An upload token's signature and expiry, checked as soon as the form's `token` field is read. */
    checkUploadToken: (token: string) => checkUploadToken(ctx, token),
    uploadCode: (fields: ReadonlyMap<string, string>, file: AsyncIterable<Uint8Array> | null) => uploadCode(ctx, fields, file),
    codeDownloadToken: (p: Principal, id: number) => codeDownloadToken(ctx, p, id),
    readCodeBlob: (token: string) => readCodeBlob(ctx, token),
    /** The largest upload body accepted (the multipart reader's cap). */
    codeUploadMaxBytes: () => ctx.settings.codeUploadMaxBytes,

    recordWorkerStatus: (s: WorkerStatusInput) => recordWorkerStatus(ctx, s),
    reportAddressEndpoint: (ref: string, forKey: boolean) => reportAddressEndpoint(ctx, ref, forKey),
    acknowledgeWorkerRequests: (id: number, mtoken: string, requestIdxs: readonly string[], via: number | null = null) =>
      acknowledgeWorkerRequests(ctx, id, mtoken, requestIdxs, via),
    resolveEndpoint: (name: string, key: string | null) => resolveEndpoint(ctx, name, key),
    resolveDeployment: (p: Principal, ref: DeploymentRef) => resolveDeployment(ctx, p, ref),
    routingView: (endpointId: number) => routingView(ctx, endpointId),
  };
}

export type ServerlessUseCases = ReturnType<typeof serverlessUseCases>;

export { CallTimeoutError, GantryApiError, GantryConnectionError, GantryTimeoutError, WaitTimeoutError } from './errors.js';
export { GantryClient, type ClientOptions, type CreateInstanceBody, type InstanceState, type Row } from './client.js';
export { startWorker, type RunningWorker, type WorkerOptions, type WorkerRequest, type WorkerResponse } from './worker.js';
export {
  Deployment,
  Image,
  type AutoscalingOptions,
  type ContextClass,
  type DeploymentOptions,
  type ReadyResult,
  type RemoteOptions,
} from './code/deployment.js';
export { RemoteError } from './code/remote-error.js';

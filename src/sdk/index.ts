export { GantryApiError, GantryClient, type ClientOptions, type CreateInstanceBody, type InstanceState, type Row } from './client.js';
export { startWorker, type RunningWorker, type WorkerOptions, type WorkerRequest, type WorkerResponse } from './worker.js';

import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Keys are stored as SHA-256 hashes only; the plain key is shown once. */
export function hashKey(key: string): string {
  // The one-shot form: it runs on every authenticated request, twice (its bucket, its principal).
  return hash('sha256', key, 'hex');
}

export function newApiKey(): string {
  return 'gnt_' + randomBytes(24).toString('base64url');
}

/**
 * The per-instance key (CONTAINER_API_KEY) is derived from the server secret, so the reconciler can
 * inject it at every start without the plain key ever being stored.
 */
export function instanceKey(secret: string, instanceId: number): string {
  return 'gik_' + createHmac('sha256', secret).update(`instance:${instanceId}`).digest('base64url').slice(0, 40);
}

/**
 * The path part of a worker's REPORT_ADDR (`/report/{ref}`): its endpoint's id and a tag derived from the server
 * secret, so a worker learns its own endpoint's signing key there (`/report/{ref}/pubkey/`) and nobody makes the
 * control plane make keys for ids of their choosing.
 */
export function reportRef(secret: string, endpointId: number): string {
  return `${endpointId}.${reportTag(secret, endpointId)}`;
}

/** The endpoint a report address names, or null when it is not one this server gave out. */
export function endpointOfReportRef(secret: string, ref: string): number | null {
  const m = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{22})$/.exec(ref);
  if (m === null) return null;
  const id = Number(m[1]);
  const want = Buffer.from(reportTag(secret, id));
  const got = Buffer.from(m[2] as string);
  return Number.isSafeInteger(id) && got.length === want.length && timingSafeEqual(got, want) ? id : null;
}

const reportTag = (secret: string, endpointId: number): string => createHmac('sha256', secret).update(`report:${endpointId}`).digest('base64url').slice(0, 22);

/** A serverless worker's MASTER_TOKEN: it authenticates the worker's own /worker_status/ reports. */
export function workerToken(secret: string, instanceId: number): string {
  return 'gwt_' + createHmac('sha256', secret).update(`worker:${instanceId}`).digest('base64url').slice(0, 40);
}

/** Whether a worker's token is its own, compared in constant time (how long a refusal takes tells nothing of the token). */
export function isWorkerToken(secret: string, instanceId: number, token: string): boolean {
  const want = Buffer.from(workerToken(secret, instanceId));
  const got = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The control plane's grant that lets the workers of one trained-model deployment download one
 * model: only `_start` can write it, so a workergroup made through another API (with its own
 * GANTRY_MODEL_ID in its env) cannot fetch a model its key may not read.
 */
export function modelGrant(secret: string, accountId: number, deploymentName: string, modelId: string): string {
  return 'gmg_' + createHmac('sha256', secret).update(`model:${accountId}:${deploymentName}:${modelId}`).digest('base64url').slice(0, 40);
}

/** An endpoint's own API key, as Vast gives every endpoint one (shown in its row, used for /route/). */
export function newEndpointKey(): string {
  return 'gek_' + randomBytes(24).toString('base64url');
}

export function newSecret(): string {
  return randomBytes(32).toString('hex');
}

/** Unguessable token for short-lived result URLs. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** A deployment's public id: 16 hex digits, as AI Core's deployment ids look. */
export function newDeploymentUid(): string {
  return randomBytes(8).toString('hex');
}

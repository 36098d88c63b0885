import { createHmac } from 'node:crypto';
import {
  checkFileHash,
  checkHeartbeatTtl,
  decideCodeUpdate,
  specChanges,
  versionsToEvict,
  type CodeDeploymentRecord,
  type CodeUpdateTier,
  type CodeVersionRecord,
  type CodeWorkerSpec,
} from '../../domain/serverless/code-deployment.js';
import { GantryError } from '../../domain/errors.js';
import { ENDPOINT_PARAM_KEYS, mergeEndpointParams, type EndpointParamsPatch } from '../../domain/serverless/params.js';
import type { WorkerPlacement } from '../../domain/offer/search.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { createDeployment, ownDeployment } from './deployments.js';
import { loadOwnEndpoint, validName } from './endpoints.js';
import { updateWorkers } from './update-workers.js';
import { checkWorkergroupInput, updateWorkergroup, type WorkergroupInput } from './workergroups.js';
import { bootstrapOnstart, codeWorkerEnvString } from './code-worker.js';
import { issueUploadToken, type UploadGrant } from './code-uploads.js';

/** The SDK's `DeploymentConfig`, as the dialect read it. */
export interface CodeDeploymentConfig {
  readonly name: string;
  /** `default` when the SDK sends none. */
  readonly tag: string;
  readonly image: string;
  readonly env: string | null;
  /** The search as sent (what the tier compares) and as compiled (what workers are placed by). */
  readonly searchParams: string | null;
  readonly placement: WorkerPlacement | null;
  readonly storageGb: number;
  readonly fileHash: string;
  readonly fileSize: number;
  readonly ttlS: number | null;
  readonly versionLabel: string | null;
  readonly dockerLogin: { readonly user: string | null; readonly pass: string | null; readonly repo: string | null } | null;
  readonly params: EndpointParamsPatch;
}

export interface CodePutResult {
  readonly action: CodeUpdateTier;
  readonly deploymentId: number;
  readonly endpointId: number;
  readonly workergroupId: number;
  /** Where to upload the code; null when its bytes are stored already. */
  readonly upload: UploadGrant | null;
  readonly evicted: readonly CodeVersionRecord[];
}

/** Default disk of a code deployment's workers when the SDK sends no `storage` (its Image's default). */
export const DEFAULT_CODE_STORAGE_GB = 50;

function workerSpec(ctx: ControlContext, c: CodeDeploymentConfig): CodeWorkerSpec {
  const login = c.dockerLogin;
  const digest =
    login === null
      ? null
      : createHmac('sha256', ctx.secret)
          .update(`docker-login:v1\n${login.user ?? ''}\n${login.repo ?? ''}\n${login.pass ?? ''}`)
          .digest('hex');
  return { image: c.image, env: c.env, searchParams: c.searchParams, storageGb: c.storageGb, dockerLoginDigest: digest };
}

/** The worker template: the SDK's image, env and disk, with Vast's bootstrap (or the Node SDK's, by its env) as its onstart (code-worker.ts). */
function workergroupInput(ctx: ControlContext, c: CodeDeploymentConfig): WorkergroupInput {
  return {
    template: { image: c.image, env: codeWorkerEnvString(c.env), onstart: bootstrapOnstart(c.env), args: null, diskGb: c.storageGb },
    placement: c.placement,
    launchArgs: null,
    gpuRamGb: null,
    testWorkers: null,
  };
}

function checkConfig(ctx: ControlContext, c: CodeDeploymentConfig): void {
  validName(c.name, 'deploymentName');
  validName(c.tag, 'deploymentTag');
  checkFileHash(c.fileHash);
  if (!Number.isSafeInteger(c.fileSize) || c.fileSize < 1 || c.fileSize > ctx.settings.codeUploadMaxBytes)
    throw new GantryError('INVALID_ARGUMENT', `'file_size' must be a whole number of bytes from 1 to ${ctx.settings.codeUploadMaxBytes}; got ${c.fileSize}.`, {
      field: 'file_size',
    });
  if (!Number.isFinite(c.storageGb) || c.storageGb <= 0 || c.storageGb > 100_000)
    throw new GantryError('INVALID_ARGUMENT', `'storage' must be a positive number of GB; got ${c.storageGb}.`, { field: 'storage' });
  checkHeartbeatTtl(c.ttlS, ctx.settings.codeHeartbeatTtlMinimumS);
  // The template too (image, env flags, disk, placement): an update must not apply part of itself and then refuse.
  checkWorkergroupInput(workergroupInput(ctx, c));
}

/**
 * Vast's `PUT /api/v0/deployments/`: create the deployment of (account, name, tag) or update it by
 * the tier `decideCodeUpdate` picks, make the code's version current, evict the oldest versions
 * beyond `codeVersionsKept`, and grant an upload when the code's bytes are not stored yet.
 */
export async function putCodeDeployment(ctx: ControlContext, p: Principal, c: CodeDeploymentConfig): Promise<CodePutResult> {
  authorize(p, 'serverless.write');
  checkConfig(ctx, c);
  const spec = workerSpec(ctx, c);
  const now = ctx.clock.now();
  const found = await ctx.store.findCodeDeployment(p.accountId, c.name, c.tag);
  const dockerLogin =
    c.dockerLogin === null
      ? null
      : {
          user: c.dockerLogin.user,
          repo: c.dockerLogin.repo,
          passSealed: c.dockerLogin.pass === null ? null : ctx.vault.seal(c.dockerLogin.pass, `docker-login:${p.accountId}`).sealed,
        };
  let code: CodeDeploymentRecord;
  let action: CodeUpdateTier;
  if (found === undefined) {
    const v = await createDeployment(ctx, p, {
      ...workergroupInput(ctx, c),
      name: c.name,
      ...(c.tag !== 'default' ? { endpointName: `${c.name}.${c.tag}` } : {}),
      tag: c.tag,
      params: c.params,
    });
    code = await ctx.store.createCodeDeployment({ deploymentId: v.deployment.id, accountId: p.accountId, spec, dockerLogin, ttlS: c.ttlS, now });
    action = 'created';
  } else {
    code = found;
    action = await applyUpdate(ctx, p, found, c, spec);
    // A new ttl counts from the PUT that set it: else one set on a deployment long silent would stop it before the client's
    // first heartbeat. The heartbeat first: a pass between the two writes sees the old ttl with it, never the new ttl without.
    if (c.ttlS !== null && c.ttlS !== found.ttlS) await ctx.store.recordCodeHeartbeat(found.deploymentId, now);
    await ctx.store.updateCodeDeployment(found.deploymentId, { spec, dockerLogin, ttlS: c.ttlS, now });
  }
  const d = await ownDeployment(ctx, p, { id: code.deploymentId }, 'serverless.write');
  // A new ttl moves the deadline a resting endpoint's rest was bounded by (decision 026).
  if (found !== undefined && c.ttlS !== found.ttlS) ctx.endpointSignal.intent(d.endpointId);
  const version = await ctx.store.useCodeVersion({
    deploymentId: d.id,
    accountId: p.accountId,
    fileHash: c.fileHash,
    fileSize: c.fileSize,
    versionLabel: c.versionLabel,
    now,
  });
  if (code.currentVersionId !== version.id) await ctx.store.updateCodeDeployment(d.id, { currentVersionId: version.id, now });
  const evicted = await evictVersions(ctx, d.id, version.id);
  const groups = await ctx.store.listWorkergroups({ endpointId: d.endpointId });
  const workergroupId = groups[groups.length - 1]?.id ?? d.workergroupId;
  ctx.log.info({ deploymentId: d.id, action, fileHash: c.fileHash, evicted: evicted.length }, 'code deployment put');
  return { action, deploymentId: d.id, endpointId: d.endpointId, workergroupId, upload: await uploadIfMissing(ctx, version), evicted };
}

/** Carry out the tier of an existing deployment's PUT; answers the tier. */
async function applyUpdate(
  ctx: ControlContext,
  p: Principal,
  found: CodeDeploymentRecord,
  c: CodeDeploymentConfig,
  spec: CodeWorkerSpec,
): Promise<CodeUpdateTier> {
  const d = await ownDeployment(ctx, p, { id: found.deploymentId }, 'serverless.write');
  const ep = await loadOwnEndpoint(ctx, p, d.endpointId);
  const merged = mergeEndpointParams(ep.params, c.params);
  const paramsChanged = ENDPOINT_PARAM_KEYS.some((k) => merged[k] !== ep.params[k]);
  const current = found.currentVersionId === null ? undefined : await ctx.store.getCodeVersion(found.currentVersionId);
  const tier = decideCodeUpdate({ before: { spec: found.spec, fileHash: current?.fileHash ?? null }, spec, fileHash: c.fileHash, paramsChanged });
  if (paramsChanged) {
    await ctx.store.updateEndpointConfig(ep.id, { params: merged, now: ctx.clock.now() });
    ctx.endpointSignal.intent(ep.id);
  }
  if (tier === 'updated') {
    // A hard update: the template changes and every worker is replaced by one made from it (Vast's rolling update).
    const groups = await ctx.store.listWorkergroups({ endpointId: ep.id });
    const wgId = groups[groups.length - 1]?.id ?? d.workergroupId;
    await updateWorkergroup(ctx, p, wgId, workergroupInput(ctx, c));
    await updateWorkers(ctx, p, wgId);
    ctx.log.info({ deploymentId: d.id, changed: specChanges(found.spec, spec) }, 'code deployment: hard update, workers to be replaced');
  }
  return tier;
}

/** Drop the versions beyond `codeVersionsKept` (never the current one), and the blobs no version holds any more. */
async function evictVersions(ctx: ControlContext, deploymentId: number, currentId: number): Promise<CodeVersionRecord[]> {
  const evicted = versionsToEvict(await ctx.store.listCodeVersions(deploymentId), ctx.settings.codeVersionsKept, currentId);
  await deleteVersions(ctx, evicted);
  return evicted;
}

async function deleteVersions(ctx: ControlContext, versions: readonly CodeVersionRecord[]): Promise<void> {
  if (versions.length === 0) return;
  const free = await ctx.store.deleteCodeVersions(versions.map((v) => v.id));
  for (const b of free) {
    // A blob that cannot be removed now is only disk: the versions are gone either way.
    await ctx.blobs.delete(`${b.accountId}/${b.fileHash}`).catch((err: unknown) => ctx.log.warn({ err, fileHash: b.fileHash }, 'code blob not deleted'));
  }
}

/** A deleted deployment's code versions, and the blobs no other version holds (the serverless loop, as it removes the deployment). */
export async function dropCodeVersions(ctx: ControlContext, deploymentId: number): Promise<void> {
  await deleteVersions(ctx, await ctx.store.listCodeVersions(deploymentId));
}

/** A grant to upload the version's code, unless its bytes are stored (by this deployment or another of the account). */
async function uploadIfMissing(ctx: ControlContext, v: CodeVersionRecord): Promise<UploadGrant | null> {
  if (v.uploadedAt !== null) return null;
  const key = `${v.accountId}/${v.fileHash}`;
  const stored = await ctx.blobs.size(key);
  if (stored !== null) {
    await ctx.store.markCodeUploaded(v.accountId, v.fileHash, ctx.clock.now());
    return null;
  }
  return issueUploadToken(ctx, v);
}

/** A code deployment's versions, most recently used first (`show deployment-versions`); null for one made from an image. */
export async function codeVersions(
  ctx: ControlContext,
  p: Principal,
  id: number,
): Promise<{ code: CodeDeploymentRecord; versions: CodeVersionRecord[] } | null> {
  const d = await ownDeployment(ctx, p, { id }, 'serverless.read');
  const code = await ctx.store.getCodeDeployment(d.id);
  return code === undefined ? null : { code, versions: await ctx.store.listCodeVersions(d.id) };
}

/**
 * The client's heartbeat (`POST /api/v0/deployment/{id}/heartbeat/`), recorded as it arrives. The
 * ttl stop reads it: a later slice's serverless-loop pass stops (not deletes) a code deployment whose
 * last heartbeat (or creation) is older than its `ttl` seconds (decision 020).
 */
export async function recordCodeHeartbeat(ctx: ControlContext, p: Principal, id: number): Promise<{ at: number }> {
  const d = await ownDeployment(ctx, p, { id }, 'serverless.write');
  if ((await ctx.store.getCodeDeployment(d.id)) === undefined)
    throw new GantryError('DEPLOYMENT_HAS_NO_CODE', `Deployment ${id} was made from an image; only code deployments take heartbeats.`, { deploymentId: id });
  const at = ctx.clock.now();
  await ctx.store.recordCodeHeartbeat(d.id, at);
  return { at };
}

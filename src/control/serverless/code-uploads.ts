import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { blobKeyOf, type CodeVersionRecord } from '../../domain/serverless/code-deployment.js';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { ownDeployment } from './deployments.js';

/**
 * Upload and download tokens of code deployments (decision 020). Both are `<payload>.<signature>`:
 * base64url JSON signed with HMAC-SHA256 under a key derived from the server secret, so every
 * replica issues and checks them alike. An upload token names one version, its blob and its size,
 * expires, and is good for one upload (its nonce is taken in the store); a download token names a
 * blob and expires, and may be used again while it lasts (a worker that retries).
 */

/** What the SDK posts as `upload_fields`, besides its `file` part. */
export interface UploadGrant {
  /** The version's name in the form: `<deployment id>/<file hash>`. */
  readonly key: string;
  readonly token: string;
  readonly expiresAt: number;
}

interface UploadPayload {
  readonly t: 'upload';
  readonly v: number;
  readonly k: string;
  readonly s: number;
  readonly e: number;
  readonly n: string;
}
interface DownloadPayload {
  readonly t: 'download';
  readonly b: string;
  readonly e: number;
}

const signingKey = (ctx: Pick<ControlContext, 'secret'>): Buffer => createHmac('sha256', ctx.secret).update('code-token:v1').digest();

function sign(ctx: Pick<ControlContext, 'secret'>, payload: UploadPayload | DownloadPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${createHmac('sha256', signingKey(ctx)).update(body).digest('base64url')}`;
}

const invalidToken = (why: string): GantryError => new GantryError('UPLOAD_TOKEN_INVALID', `The token is not valid: ${why}.`);

/** The payload of a token this server signed, of the kind wanted; UPLOAD_TOKEN_INVALID otherwise, UPLOAD_TOKEN_EXPIRED past its time. */
function verify<T extends UploadPayload | DownloadPayload>(ctx: ControlContext, token: string, kind: T['t']): T {
  if (token.length > 2048) throw invalidToken('it is too long');
  const dot = token.indexOf('.');
  if (dot < 1) throw invalidToken('it is not <payload>.<signature>');
  const body = token.slice(0, dot);
  const want = createHmac('sha256', signingKey(ctx)).update(body).digest();
  const got = Buffer.from(token.slice(dot + 1), 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw invalidToken('its signature does not match');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken('its payload does not parse');
  }
  const p = payload as T;
  if (p === null || typeof p !== 'object' || p.t !== kind) throw invalidToken(`it is not a ${kind} token`);
  if (typeof p.e !== 'number' || p.e <= ctx.clock.now())
    throw new GantryError('UPLOAD_TOKEN_EXPIRED', `The ${kind} token expired at ${new Date(p.e).toISOString()}; ask for a new one.`, { expiredAt: p.e });
  return p;
}

/** A single-use token to upload this version's code. */
export async function issueUploadToken(ctx: ControlContext, v: CodeVersionRecord): Promise<UploadGrant> {
  const nonce = randomBytes(16).toString('hex');
  const expiresAt = ctx.clock.now() + ctx.settings.codeUploadTokenTtlMs;
  const key = `${v.deploymentId}/${v.fileHash}`;
  await ctx.store.addUploadToken(nonce, v.id, expiresAt);
  return { key, token: sign(ctx, { t: 'upload', v: v.id, k: key, s: v.fileSize, e: expiresAt, n: nonce }), expiresAt };
}

/**
 * An upload token's signature and expiry, without the store: the upload endpoint checks the form's
 * `token` field as soon as it is read, so a forged or expired one is refused before the rest of the body.
 */
export function checkUploadToken(ctx: ControlContext, token: string): void {
  if (token === '') throw invalidToken("the form's 'token' field is empty");
  verify<UploadPayload>(ctx, token, 'upload');
}

/** What an upload stored: the bytes, or nothing because they were stored already. */
export type UploadOutcome = 'stored' | 'exists';

/**
 * Gantry's upload endpoint: the SDK's form fields (`key`, `token`) and its `file` part, read as it
 * streams (null: the form had no file part). Every refusal stores nothing: a bad, expired, used or
 * mismatched token, a missing file, a size other than the PUT declared, a body over the cap (the
 * `file` iterable throws UPLOAD_TOO_LARGE). A version stored already is a success that stores nothing.
 */
export async function uploadCode(ctx: ControlContext, fields: ReadonlyMap<string, string>, file: AsyncIterable<Uint8Array> | null): Promise<UploadOutcome> {
  const token = fields.get('token');
  if (token === undefined || token === '') throw invalidToken("the form has no 'token' field");
  const t = verify<UploadPayload>(ctx, token, 'upload');
  const key = fields.get('key');
  if (key !== t.k)
    throw new GantryError('UPLOAD_TOKEN_MISMATCH', `The token was issued for version ${t.k}, not ${JSON.stringify((key ?? '').slice(0, 200))}.`, {
      field: 'key',
    });
  if (file === null) throw new GantryError('UPLOAD_FILE_MISSING', "The form has no 'file' part after its fields; nothing was stored.", { field: 'file' });
  const v = await ctx.store.getCodeVersion(t.v);
  if (v === undefined) throw invalidToken('the version it names was evicted');
  const taken = await ctx.store.takeUploadToken(t.n, ctx.clock.now());
  if (taken === 'used') throw new GantryError('UPLOAD_TOKEN_USED', 'This upload token was used already; PUT the deployment again for another.');
  if (taken === 'unknown') throw invalidToken('it was never issued here');
  const blob = blobKeyOf(v.accountId, v.fileHash);
  if (v.uploadedAt !== null || (await ctx.blobs.size(blob)) !== null) {
    await ctx.store.markCodeUploaded(v.accountId, v.fileHash, ctx.clock.now());
    return 'exists';
  }
  await ctx.blobs.put(blob, file, t.s);
  await ctx.store.markCodeUploaded(v.accountId, v.fileHash, ctx.clock.now());
  ctx.log.info({ deploymentId: v.deploymentId, versionId: v.id, bytes: t.s }, 'code uploaded');
  // A deployment that waited for its code recruits now, not at the next periodic pass.
  const d = await ctx.store.getDeployment(v.deploymentId);
  if (d !== undefined) ctx.endpointSignal.intent(d.endpointId);
  return 'stored';
}

/**
 * A signed, expiring token for the current code of a deployment (`download_url`). Allowed to the
 * owner's keys and to the instance key (CONTAINER_API_KEY) of one of the deployment's workers.
 */
export async function codeDownloadToken(ctx: ControlContext, p: Principal, id: number): Promise<{ token: string; expiresAt: number }> {
  authorize(p, 'serverless.code', { kind: 'deployment', id });
  let deploymentId: number;
  if (p.scope === 'instance') {
    // A worker's own key: only the deployment whose endpoint it works for. Any other id is FORBIDDEN,
    // whether it exists or not, as every other route refuses an instance key.
    const d = await ctx.store.getDeployment(id);
    const inst = p.instanceId === null ? undefined : await ctx.store.getInstance(p.instanceId);
    if (d === undefined || inst === undefined || inst.status === 'destroyed' || inst.endpointId !== d.endpointId || inst.accountId !== d.accountId)
      throw new GantryError('FORBIDDEN', 'An instance key may only fetch the download_url of the deployment its instance is a worker of.', {
        deploymentId: id,
      });
    deploymentId = d.id;
  } else deploymentId = (await ownDeployment(ctx, p, { id }, 'serverless.read')).id;
  const code = await ctx.store.getCodeDeployment(deploymentId);
  if (code === undefined)
    throw new GantryError('DEPLOYMENT_HAS_NO_CODE', `Deployment ${id} was made from an image; it has no code to download.`, { deploymentId: id });
  const v = code.currentVersionId === null ? undefined : await ctx.store.getCodeVersion(code.currentVersionId);
  if (v === undefined || v.uploadedAt === null)
    throw new GantryError('CODE_NOT_UPLOADED', `Deployment ${id}'s current code is not uploaded yet.`, { deploymentId: id });
  const expiresAt = ctx.clock.now() + ctx.settings.codeDownloadUrlTtlMs;
  return { token: sign(ctx, { t: 'download', b: blobKeyOf(v.accountId, v.fileHash), e: expiresAt }), expiresAt };
}

/** The bytes a download token names (the token is the credential: the URL is what a worker fetches). */
export async function readCodeBlob(ctx: ControlContext, token: string): Promise<{ size: number; chunks: AsyncIterable<Uint8Array> }> {
  const t = verify<DownloadPayload>(ctx, token, 'download');
  return ctx.blobs.read(t.b);
}

/**
 * A code deployment whose current version is not stored yet (put, its upload still to come): a worker
 * started now would fetch download_url, which serves only that version, get CODE_NOT_UPLOADED and
 * fail, and three such failures made a new deployment `failed` before a slow upload finished. The
 * serverless loop starts and recruits no worker for it until the upload is stored (an update's too).
 */
export async function codeAwaitingUpload(ctx: Pick<ControlContext, 'store'>, deploymentId: number): Promise<boolean> {
  const code = await ctx.store.getCodeDeployment(deploymentId);
  if (code === undefined || code.currentVersionId === null) return false;
  return (await ctx.store.getCodeVersion(code.currentVersionId))?.uploadedAt === null;
}

import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { CodeDeploymentConfig, CodePutResult } from '../../../control/serverless/code-deployments.js';
import { DEFAULT_CODE_STORAGE_GB } from '../../../control/serverless/code-deployments.js';
import type { CodeVersionRecord } from '../../../domain/serverless/code-deployment.js';
import { GantryError } from '../../../domain/errors.js';
import { showValue } from '../../../domain/show.js';
import { principal } from '../../edge/principal.js';
import { multipartBoundary, MultipartReader } from '../../edge/multipart.js';
import { vastParamsPatch } from './endpoint-params.js';
import { vastPlacement } from './offers.js';
import { asObject, parseId } from './parse.js';
import { MAX_SEARCH_QUERY_CHARS } from './query-language.js';

type Req = FastifyRequest<{ Params: Record<string, string> }>;

/** The endpoint's scaling parameters among the SDK's `DeploymentConfig` fields. */
const PARAM_FIELDS = [
  'cold_workers',
  'max_workers',
  'min_load',
  'min_cold_load',
  'target_util',
  'cold_mult',
  'max_queue_time',
  'target_queue_time',
  'inactivity_timeout',
];

/** Every field of the SDK's `DeploymentConfig` (vastai/data/deployment.py); others are refused, so a typo is not ignored. */
const CONFIG_FIELDS = new Set([
  'name',
  'image',
  'file_hash',
  'file_size',
  'env',
  'tag',
  'search_params',
  'storage',
  'ttl',
  'version_label',
  'docker_login_user',
  'docker_login_pass',
  'docker_login_repo',
  ...PARAM_FIELDS,
  'autoscaler_instance',
]);

const wrong = (field: string, what: string, v: unknown): GantryError =>
  new GantryError('INVALID_ARGUMENT', `'${field}' must be ${what}, got ${showValue(v)}.`, { field });

function str(o: Record<string, unknown>, field: string, required: boolean): string | null {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) throw new GantryError('MISSING_INPUT', `'${field}' is required.`, { field });
    return null;
  }
  if (typeof v !== 'string') throw wrong(field, 'a string', v);
  if (required && v.trim() === '') throw new GantryError('MISSING_INPUT', `'${field}' may not be empty.`, { field });
  // Every text field here shares the bound of `search_params`, the one the search-language parser reads.
  if (v.length > MAX_SEARCH_QUERY_CHARS) throw wrong(field, `at most ${MAX_SEARCH_QUERY_CHARS} characters`, `${v.slice(0, 40)}…`);
  return v;
}

/** A JSON number (the SDK sends numbers; a string here is a caller's mistake, said so). */
function num(o: Record<string, unknown>, field: string): number | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw wrong(field, 'a number', v);
  return v;
}

/** The body of `PUT /api/v0/deployments/` as the engine's config; 400 in Vast's shape for any wrong type or value. */
export function parseCodeConfig(body: unknown): CodeDeploymentConfig {
  const o = asObject(body);
  const unknown = Object.keys(o).filter((k) => !CONFIG_FIELDS.has(k));
  if (unknown.length > 0)
    throw new GantryError(
      'INVALID_ARGUMENT',
      `Unknown field(s) ${unknown
        .slice(0, 5)
        .map((k) => `'${k.slice(0, 64)}'`)
        .join(', ')}; a deployment takes the fields of DeploymentConfig.`,
      {
        field: unknown[0]?.slice(0, 64),
      },
    );
  const fileSize = num(o, 'file_size');
  if (fileSize === null) throw new GantryError('MISSING_INPUT', "'file_size' is required.", { field: 'file_size' });
  if (!Number.isSafeInteger(fileSize)) throw wrong('file_size', 'a whole number of bytes', fileSize);
  const searchParams = str(o, 'search_params', false);
  const user = str(o, 'docker_login_user', false);
  const pass = str(o, 'docker_login_pass', false);
  const repo = str(o, 'docker_login_repo', false);
  str(o, 'autoscaler_instance', false); // Vast's autoscaler pool: one autoscaler here, so only checked
  // JSON numbers only (the SDK's types); the ranges are the engine's (mergeEndpointParams).
  for (const k of PARAM_FIELDS) num(o, k);
  const params = vastParamsPatch(o);
  return {
    name: str(o, 'name', true) as string,
    tag: str(o, 'tag', false) ?? 'default',
    image: str(o, 'image', true) as string,
    env: str(o, 'env', false),
    searchParams,
    placement: searchParams === null || searchParams.trim() === '' ? null : vastPlacement(searchParams),
    storageGb: num(o, 'storage') ?? DEFAULT_CODE_STORAGE_GB,
    fileHash: str(o, 'file_hash', true) as string,
    fileSize,
    ttlS: num(o, 'ttl'),
    versionLabel: str(o, 'version_label', false),
    dockerLogin: user === null && pass === null && repo === null ? null : { user, pass, repo },
    params,
  };
}

/** Vast's row of a code version (`show deployment-versions`). */
export function vastCodeVersion(v: CodeVersionRecord, currentId: number | null): Record<string, unknown> {
  return {
    id: v.id,
    deployment_id: v.deploymentId,
    file_hash: v.fileHash,
    file_size: v.fileSize,
    version_label: v.versionLabel,
    status: v.id === currentId ? 'current' : 'previous',
    uploaded: v.uploadedAt !== null,
    created_at: v.createdAt / 1000,
    last_used_at: v.lastUsedAt / 1000,
  };
}

/** The upload form's fields besides its `file` part: the `upload_fields` the PUT answered (the SDK posts them as they are). */
const UPLOAD_FIELDS = new Set(['key', 'token']);
/** Longest value of one: a key is `<deployment id>/<file hash>`, a token under 2 KiB (longer ones are refused anyway). */
const UPLOAD_FIELD_MAX_BYTES = 4096;
/** How much more of a refused upload's body is read (and dropped) so that the connection can carry the next request. */
const REFUSED_REST_MAX_BYTES = 64 * 1024;

/** The base of links this server hands out: the configured public URL, else the request's own host. */
export type BaseUrl = (req: FastifyRequest) => string;

function putAnswer(r: CodePutResult, base: string): Record<string, unknown> {
  return {
    success: true,
    action: r.action,
    deployment_id: r.deploymentId,
    endpoint_id: r.endpointId,
    workergroup_id: r.workergroupId,
    upload_url: r.upload === null ? null : `${base}/api/v0/deployment_uploads/`,
    upload_fields: r.upload === null ? null : { key: r.upload.key, token: r.upload.token },
    evicted_versions: r.evicted.map((v) => ({ id: v.id, file_hash: v.fileHash, version_label: v.versionLabel })),
  };
}

/**
 * Code deployments, as Vast's deployments SDK speaks them (decision 020): the PUT, the heartbeat,
 * the worker's `download_url`, and Gantry's own upload and download URLs (the tokens are their
 * credentials: `auth: false` in route-config.ts).
 */
export async function vastCodeDeploymentRoutes(app: FastifyInstance, control: ControlPlane, baseUrl: BaseUrl): Promise<void> {
  const sl = control.serverless;
  app.put('/api/v0/deployments', async (req) => putAnswer(await sl.putCodeDeployment(principal(req), parseCodeConfig(req.body)), baseUrl(req)));
  app.post('/api/v0/deployment/:id/heartbeat', async (req: Req) => {
    const r = await sl.recordCodeHeartbeat(principal(req), parseId(req.params.id, 'deployment id'));
    return { success: true, last_client_heartbeat: r.at / 1000 };
  });
  app.get('/api/v0/deployment/:id/download_url', async (req: Req) => {
    const t = await sl.codeDownloadToken(principal(req), parseId(req.params.id, 'deployment id'));
    // The token goes in the query, not the path: a path segment is bounded (fastify's maxParamLength, app.ts).
    return { success: true, download_url: `${baseUrl(req)}/api/v0/deployment_code/?token=${t.token}`, expires_at: t.expiresAt / 1000 };
  });
  app.get('/api/v0/deployment_code', async (req: FastifyRequest<{ Querystring: Record<string, unknown> }>, reply) => {
    const token = req.query.token;
    const blob = await sl.readCodeBlob(typeof token === 'string' ? token : '');
    return reply.type('application/gzip').header('content-length', String(blob.size)).send(Readable.from(blob.chunks));
  });

  // The upload takes its body as a stream (it may be large): the multipart reader reads it as it arrives.
  await app.register(async (up) => {
    up.removeAllContentTypeParsers();
    up.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    up.post('/api/v0/deployment_uploads', async (req, reply) => {
      const max = sl.codeUploadMaxBytes();
      const boundary = multipartBoundary(req.headers['content-type']);
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > max) {
        // Not worth reading to its end: answer and close the connection.
        reply.raw.shouldKeepAlive = false;
        throw new GantryError('UPLOAD_TOO_LARGE', `The upload is larger than ${max} bytes; nothing was stored.`, { maxBytes: max });
      }
      if (req.body === undefined || req.body === null) throw new GantryError('INVALID_MULTIPART', 'The upload has no body.');
      const reader = new MultipartReader(req.body as AsyncIterable<Uint8Array>, boundary, { maxBytes: max });
      // Nobody is authenticated yet (the token is in the form): only the fields the upload takes are
      // read, each once and short (at most 2 × 4 KiB held), and the token is checked as soon as it is.
      const fields = new Map<string, string>();
      try {
        let file: AsyncIterable<Uint8Array> | null = null;
        for (let part = await reader.next(); part !== null; part = await reader.next()) {
          if (part.name === 'file') {
            file = reader.data();
            break;
          }
          const name = part.name.slice(0, 64);
          if (!UPLOAD_FIELDS.has(part.name))
            throw new GantryError('INVALID_ARGUMENT', `The upload form has an unknown field '${name}'; it takes 'key', 'token' and a 'file' part.`, {
              field: name,
            });
          if (fields.has(part.name)) throw new GantryError('INVALID_ARGUMENT', `The upload form repeats its '${name}' field.`, { field: name });
          fields.set(part.name, await reader.text(UPLOAD_FIELD_MAX_BYTES));
          if (part.name === 'token') sl.checkUploadToken(fields.get('token') ?? '');
        }
        // Checks the key against the token, and the rest, before it reads the file.
        const outcome = await sl.uploadCode(fields, file);
        await reader.drain();
        return await reply.code(outcome === 'stored' ? 201 : 200).send({ success: true, stored: outcome === 'stored', key: fields.get('key') ?? null });
      } catch (err) {
        // A body read in part is not skipped by Node: a short rest is read and dropped (within the cap),
        // so the connection can carry the next request. A longer rest is not read: the refusal is
        // answered at once, while the client may still be sending, and closes the connection.
        const rest = Number.isFinite(declared) ? declared - reader.bytesRead : REFUSED_REST_MAX_BYTES;
        const read = rest <= REFUSED_REST_MAX_BYTES && (await reader.discard(REFUSED_REST_MAX_BYTES).catch(() => false));
        if (!read) reply.raw.shouldKeepAlive = false;
        throw err;
      }
    });
  });
}

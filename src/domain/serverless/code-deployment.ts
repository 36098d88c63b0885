import { GantryError } from '../errors.js';

/**
 * Code deployments (decision 020): a deployment made from a developer's module rather than from an
 * image alone. Vast's deployments SDK puts its config (`PUT /api/v0/deployments/`), Gantry answers
 * which update tier it took and, when the code's bytes are not stored yet, where to upload them.
 */

/** What decides a worker's make-up: a change here is a hard update (new workers). */
export interface CodeWorkerSpec {
  readonly image: string;
  /** Docker flags as the SDK sends them (`-p 3000:3000/tcp -e REPORT_ADDR=...`); null: none. */
  readonly env: string | null;
  /** The offer search in Vast's query language; null: the default placement. */
  readonly searchParams: string | null;
  /** Disk per worker in GB. */
  readonly storageGb: number;
  /** A keyed digest of the registry login (user, repository, password); null: none. Never the password itself. */
  readonly dockerLoginDigest: string | null;
}

/** One version of a deployment's code: each distinct `file_hash` is one. */
export interface CodeVersionRecord {
  readonly id: number;
  readonly deploymentId: number;
  readonly accountId: number;
  /** The SDK's identity of the code (a hash over its config and sources, not over the tarball's bytes). */
  readonly fileHash: string;
  readonly fileSize: number;
  readonly versionLabel: string | null;
  /** When its bytes were stored; null: not uploaded yet. */
  readonly uploadedAt: number | null;
  readonly createdAt: number;
  /** When a PUT last made it current (the newest kept versions are by this). */
  readonly lastUsedAt: number;
}

/** The code side of a deployment (the deployment, endpoint and workergroup rows hold the rest). */
export interface CodeDeploymentRecord {
  readonly deploymentId: number;
  readonly accountId: number;
  readonly spec: CodeWorkerSpec;
  /** The registry login as given, its password sealed by the vault; null: none. */
  readonly dockerLogin: { readonly user: string | null; readonly repo: string | null; readonly passSealed: string | null } | null;
  readonly currentVersionId: number | null;
  /** Seconds without a client heartbeat after which the deployment is to be stopped (the SDK's `ttl`); null: never. */
  readonly ttlS: number | null;
  readonly lastHeartbeatAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Vast's actions for a PUT, plus Gantry's `updated` for a hard update: Vast documents no name for
 * that tier (its SDK only acts on `soft_update`), so Gantry answers `updated` (docs/vast-compat.md).
 */
export type CodeUpdateTier = 'created' | 'exists' | 'autoscale_update' | 'soft_update' | 'updated';

export interface TierInput {
  /** The stored worker spec and current code; null: no deployment of this (account, name, tag) yet. */
  readonly before: { readonly spec: CodeWorkerSpec; readonly fileHash: string | null } | null;
  readonly spec: CodeWorkerSpec;
  readonly fileHash: string;
  /** Whether the endpoint's scaling parameters would change. */
  readonly paramsChanged: boolean;
}

/** Which of the worker spec's fields differ (the reason a hard update gives). */
export function specChanges(a: CodeWorkerSpec, b: CodeWorkerSpec): (keyof CodeWorkerSpec)[] {
  const keys: (keyof CodeWorkerSpec)[] = ['image', 'env', 'searchParams', 'storageGb', 'dockerLoginDigest'];
  return keys.filter((k) => a[k] !== b[k]);
}

/**
 * The update tier of a PUT, the strongest change winning:
 *
 * | stored            | worker spec | file_hash | scaling params | tier               | what Gantry does                                   |
 * | ----------------- | ----------- | --------- | -------------- | ------------------ | -------------------------------------------------- |
 * | none              | any         | any       | any            | `created`          | endpoint, workergroup, deployment, first version   |
 * | this name and tag | changed     | any       | any            | `updated`          | new template; workers replaced (rolling update)    |
 * | this name and tag | same        | changed   | any            | `soft_update`      | a new current version; workers restarted in place |
 * | this name and tag | same        | same      | changed        | `autoscale_update` | the endpoint's parameters only                     |
 * | this name and tag | same        | same      | same           | `exists`           | nothing (ttl and version label are recorded)       |
 */
export function decideCodeUpdate(i: TierInput): CodeUpdateTier {
  if (i.before === null) return 'created';
  if (specChanges(i.before.spec, i.spec).length > 0) return 'updated';
  if (i.before.fileHash !== i.fileHash) return 'soft_update';
  if (i.paramsChanged) return 'autoscale_update';
  return 'exists';
}

/** How `update workers` brings a worker to the workergroup's current state. */
export type WorkerUpdateMethod = 'restart' | 'replace';

/**
 * The update method of a worker when its workergroup's workers are updated (the tier table's last
 * column, carried out by the serverless loop, update-workers.ts):
 *
 * | the worker's workload                  | made from the template as it is now | method    | why                                                        |
 * | -------------------------------------- | ----------------------------------- | --------- | ---------------------------------------------------------- |
 * | loads its code at start (a bootstrap)  | yes (`soft_update`: code only)      | `restart` | in place, same instance and disk: drained, restarted, it downloads the current version |
 * | loads its code at start (a bootstrap)  | no (`updated`: image, env, disk)    | `replace` | a new worker from the new template, the old one drained    |
 * | an image's own workload                | any                                 | `replace` | Vast's `update workers`: the image may have changed under its tag |
 */
export function workerUpdateMethod(w: { readonly loadsCodeAtStart: boolean; readonly madeFromTemplate: boolean }): WorkerUpdateMethod {
  return w.loadsCodeAtStart && w.madeFromTemplate ? 'restart' : 'replace';
}

/** Whether an instance is what its workergroup's template makes now: image, onstart, disk, and every env var of the template with its value. */
export function madeFromTemplate(
  t: { readonly image: string; readonly onstart: string | null; readonly diskGb: number; readonly env: Readonly<Record<string, string>> },
  i: { readonly image: string; readonly onstart: string | null; readonly diskGb: number; readonly env: Readonly<Record<string, string>> },
): boolean {
  return t.image === i.image && t.onstart === i.onstart && t.diskGb === i.diskGb && Object.entries(t.env).every(([k, v]) => i.env[k] === v);
}

/**
 * Which versions to drop so that at most `keep` remain: the newest by `lastUsedAt` (ties: the higher
 * id) stay, and the current one always stays, whatever its age.
 */
export function versionsToEvict(versions: readonly CodeVersionRecord[], keep: number, currentId: number | null): CodeVersionRecord[] {
  const newestFirst = [...versions].sort((a, b) => b.lastUsedAt - a.lastUsedAt || b.id - a.id);
  const kept = new Set<number>(currentId === null ? [] : [currentId]);
  for (const v of newestFirst) if (kept.size < Math.max(1, keep)) kept.add(v.id);
  return newestFirst.filter((v) => !kept.has(v.id));
}

/** A file hash names a blob on disk: letters, digits, `_` and `-` only (the SDK sends 64 hex digits). */
const FILE_HASH = /^[A-Za-z0-9_-]{8,128}$/;

export function checkFileHash(h: string): string {
  if (!FILE_HASH.test(h))
    throw new GantryError(
      'INVALID_ARGUMENT',
      `'file_hash' must be 8 to 128 letters, digits, '_' or '-' (the SDK sends a sha256 in hex); got ${JSON.stringify(h.slice(0, 140))}.`,
      {
        field: 'file_hash',
      },
    );
  return h;
}

/** The blob key of a version: the same code of one account is stored once, whichever deployment uploads it. */
export function blobKeyOf(accountId: number, fileHash: string): string {
  return `${accountId}/${checkFileHash(fileHash)}`;
}

/** The client heartbeat ttl in seconds (the SDK's `ttl`: a number); null: none. At least `minimumS`. */
export function checkHeartbeatTtl(ttlS: number | null, minimumS: number): number | null {
  if (ttlS === null) return null;
  if (!Number.isFinite(ttlS) || ttlS < minimumS || ttlS > 366 * 86_400)
    throw new GantryError('INVALID_ARGUMENT', `'ttl' must be a number of seconds from ${minimumS} to ${366 * 86_400}; got ${JSON.stringify(ttlS)}.`, {
      field: 'ttl',
    });
  return ttlS;
}

/**
 * When a code deployment's client counts as gone (the SDK's `ttl`): `ttl` seconds after its last
 * heartbeat, or after its creation when none came; null: it has no ttl. Past it the deployment is
 * stopped, not deleted: its code, versions and configuration stay, and a start brings it back.
 */
export function codeTtlDeadline(c: Pick<CodeDeploymentRecord, 'ttlS' | 'lastHeartbeatAt' | 'createdAt'>): number | null {
  if (c.ttlS === null) return null;
  return (c.lastHeartbeatAt ?? c.createdAt) + c.ttlS * 1000;
}

/** The env variable (in the PUT's `env` flags) by which Gantry's Node SDK asks for its own bootstrap; Vast's SDK never sends it. */
export const CODE_RUNTIME_VAR = 'GANTRY_CODE_RUNTIME';

/** Which bootstrap a code deployment's workers run: Vast's Python one unless the env says `node`; any other value is refused. */
export function codeRuntimeOf(env: Readonly<Record<string, string>>): 'python' | 'node' {
  const v = env[CODE_RUNTIME_VAR];
  if (v === undefined || v === 'python') return 'python';
  if (v === 'node') return 'node';
  throw new GantryError(
    'INVALID_ARGUMENT',
    `'env' sets ${CODE_RUNTIME_VAR}=${JSON.stringify(v.slice(0, 40))}; it may be 'node' (Gantry's Node SDK) or 'python'.`,
    {
      field: 'env',
    },
  );
}

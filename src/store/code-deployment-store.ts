import type { CodeDeploymentRecord, CodeVersionRecord, CodeWorkerSpec } from '../domain/serverless/code-deployment.js';

export interface NewCodeDeployment {
  readonly deploymentId: number;
  readonly accountId: number;
  readonly spec: CodeWorkerSpec;
  readonly dockerLogin: CodeDeploymentRecord['dockerLogin'];
  readonly ttlS: number | null;
  readonly now: number;
}

export type CodeDeploymentWrite = Partial<Pick<CodeDeploymentRecord, 'spec' | 'dockerLogin' | 'currentVersionId' | 'ttlS'>> & { readonly now: number };

/** A version a PUT names: made when its file_hash is new to the deployment, else made current again. */
export interface UsedCodeVersion {
  readonly deploymentId: number;
  readonly accountId: number;
  readonly fileHash: string;
  readonly fileSize: number;
  /** Null keeps the label a known version has. */
  readonly versionLabel: string | null;
  readonly now: number;
}

/** What a taken upload token finds: taken now, taken before, or never issued. */
export type UploadTokenTake = 'taken' | 'used' | 'unknown';

/** Code deployments (decision 020): the code side of a deployment, its versions and the single-use upload tokens. */
export interface CodeDeploymentStore {
  createCodeDeployment(n: NewCodeDeployment): Promise<CodeDeploymentRecord>;
  getCodeDeployment(deploymentId: number): Promise<CodeDeploymentRecord | undefined>;
  /** The live code deployment of this account, name and tag (its endpoint not being deleted). */
  findCodeDeployment(accountId: number, name: string, tag: string): Promise<CodeDeploymentRecord | undefined>;
  updateCodeDeployment(deploymentId: number, w: CodeDeploymentWrite): Promise<void>;
  recordCodeHeartbeat(deploymentId: number, at: number): Promise<void>;
  /** The version of this file_hash, made when new, its `lastUsedAt` set to now (its size too while it is not uploaded). */
  useCodeVersion(v: UsedCodeVersion): Promise<CodeVersionRecord>;
  getCodeVersion(id: number): Promise<CodeVersionRecord | undefined>;
  /** A deployment's versions, most recently used first. */
  listCodeVersions(deploymentId: number): Promise<CodeVersionRecord[]>;
  /** Delete versions; answers the blobs (account, file_hash) that no version holds any more. */
  deleteCodeVersions(ids: readonly number[]): Promise<{ accountId: number; fileHash: string }[]>;
  /** Every version of the account with this file_hash is uploaded (the blob is shared). */
  markCodeUploaded(accountId: number, fileHash: string, at: number): Promise<void>;
  addUploadToken(nonce: string, versionId: number, expiresAt: number): Promise<void>;
  /** Take a token for its one upload, atomically: two concurrent takes never both answer `taken`. */
  takeUploadToken(nonce: string, at: number): Promise<UploadTokenTake>;
}

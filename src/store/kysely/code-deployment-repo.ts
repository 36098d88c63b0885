import type { Selectable } from 'kysely';
import type { CodeDeploymentStore, CodeDeploymentWrite, NewCodeDeployment, UploadTokenTake, UsedCodeVersion } from '../code-deployment-store.js';
import { Repo } from './repo.js';
import { parseJson } from './rows.js';
import type { CodeDeploymentTable, CodeVersionTable } from './serverless-schema.js';
import type { CodeDeploymentRecord, CodeVersionRecord, CodeWorkerSpec } from '../../domain/serverless/code-deployment.js';

function toCode(r: Selectable<CodeDeploymentTable>): CodeDeploymentRecord {
  return {
    deploymentId: r.deployment_id,
    accountId: r.account_id,
    spec: parseJson<CodeWorkerSpec>(r.spec_json, { image: '', env: null, searchParams: null, storageGb: 0, dockerLoginDigest: null }),
    dockerLogin: parseJson<CodeDeploymentRecord['dockerLogin']>(r.docker_login_json, null),
    currentVersionId: r.current_version_id,
    ttlS: r.ttl_s === null ? null : Number(r.ttl_s),
    lastHeartbeatAt: r.last_heartbeat_at === null ? null : Number(r.last_heartbeat_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toVersion(r: Selectable<CodeVersionTable>): CodeVersionRecord {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    accountId: r.account_id,
    fileHash: r.file_hash,
    fileSize: Number(r.file_size),
    versionLabel: r.version_label,
    uploadedAt: r.uploaded_at === null ? null : Number(r.uploaded_at),
    createdAt: Number(r.created_at),
    lastUsedAt: Number(r.last_used_at),
  };
}

/** Code deployments: the code side of a deployment, its versions, the upload tokens. */
export class CodeDeploymentRepo extends Repo implements CodeDeploymentStore {
  async createCodeDeployment(n: NewCodeDeployment): Promise<CodeDeploymentRecord> {
    const row = await this.db
      .insertInto('code_deployments')
      .values({
        deployment_id: n.deploymentId,
        account_id: n.accountId,
        spec_json: JSON.stringify(n.spec),
        docker_login_json: n.dockerLogin === null ? null : JSON.stringify(n.dockerLogin),
        current_version_id: null,
        ttl_s: n.ttlS,
        last_heartbeat_at: null,
        created_at: n.now,
        updated_at: n.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCode(row);
  }

  async getCodeDeployment(deploymentId: number): Promise<CodeDeploymentRecord | undefined> {
    const r = await this.db.selectFrom('code_deployments').selectAll().where('deployment_id', '=', deploymentId).executeTakeFirst();
    return r && toCode(r);
  }

  async findCodeDeployment(accountId: number, name: string, tag: string): Promise<CodeDeploymentRecord | undefined> {
    const r = await this.db
      .selectFrom('code_deployments as c')
      .innerJoin('deployments as d', 'd.id', 'c.deployment_id')
      .innerJoin('endpoints as e', 'e.id', 'd.endpoint_id')
      .selectAll('c')
      .where('d.account_id', '=', accountId)
      .where('d.name', '=', name)
      .where('d.tag', '=', tag)
      .where('d.deleted_at', 'is', null)
      .where('e.target', '<>', 'deleted')
      .orderBy('d.id', 'desc')
      .executeTakeFirst();
    return r && toCode(r);
  }

  async updateCodeDeployment(deploymentId: number, w: CodeDeploymentWrite): Promise<void> {
    await this.db
      .updateTable('code_deployments')
      .set({
        ...(w.spec !== undefined ? { spec_json: JSON.stringify(w.spec) } : {}),
        ...(w.dockerLogin !== undefined ? { docker_login_json: w.dockerLogin === null ? null : JSON.stringify(w.dockerLogin) } : {}),
        ...(w.currentVersionId !== undefined ? { current_version_id: w.currentVersionId } : {}),
        ...(w.ttlS !== undefined ? { ttl_s: w.ttlS } : {}),
        updated_at: w.now,
      })
      .where('deployment_id', '=', deploymentId)
      .execute();
  }

  async recordCodeHeartbeat(deploymentId: number, at: number): Promise<void> {
    await this.db.updateTable('code_deployments').set({ last_heartbeat_at: at }).where('deployment_id', '=', deploymentId).execute();
  }

  async useCodeVersion(v: UsedCodeVersion): Promise<CodeVersionRecord> {
    const existing = await this.#version(v.deploymentId, v.fileHash);
    if (existing === undefined) {
      try {
        const row = await this.db
          .insertInto('code_versions')
          .values({
            deployment_id: v.deploymentId,
            account_id: v.accountId,
            file_hash: v.fileHash,
            file_size: v.fileSize,
            version_label: v.versionLabel,
            uploaded_at: null,
            created_at: v.now,
            last_used_at: v.now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toVersion(row);
      } catch (err) {
        // Two PUTs of the same new code at once: the other made the row; use it.
        if (!this.dialect.isUniqueViolation(err)) throw err;
      }
    }
    const found = existing ?? (await this.#version(v.deploymentId, v.fileHash));
    if (found === undefined) throw new Error(`code version ${v.fileHash} of deployment ${v.deploymentId} was deleted while it was put`);
    const id = found.id;
    const row = await this.db
      .updateTable('code_versions')
      .set({ last_used_at: v.now, ...(v.versionLabel !== null ? { version_label: v.versionLabel } : {}) })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // A declared size counts until the bytes are stored (the same code may pack to another size).
    if (row.uploaded_at === null && Number(row.file_size) !== v.fileSize) {
      await this.db.updateTable('code_versions').set({ file_size: v.fileSize }).where('id', '=', id).execute();
      return { ...toVersion(row), fileSize: v.fileSize };
    }
    return toVersion(row);
  }

  async #version(deploymentId: number, fileHash: string): Promise<CodeVersionRecord | undefined> {
    const r = await this.db
      .selectFrom('code_versions')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .where('file_hash', '=', fileHash)
      .executeTakeFirst();
    return r && toVersion(r);
  }

  async getCodeVersion(id: number): Promise<CodeVersionRecord | undefined> {
    const r = await this.db.selectFrom('code_versions').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toVersion(r);
  }

  async listCodeVersions(deploymentId: number): Promise<CodeVersionRecord[]> {
    const rows = await this.db
      .selectFrom('code_versions')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .orderBy('last_used_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toVersion);
  }

  async deleteCodeVersions(ids: readonly number[]): Promise<{ accountId: number; fileHash: string }[]> {
    if (ids.length === 0) return [];
    const gone = await this.db.selectFrom('code_versions').select(['account_id', 'file_hash']).where('id', 'in', ids).execute();
    await this.db.deleteFrom('code_upload_tokens').where('version_id', 'in', ids).execute();
    await this.db.deleteFrom('code_versions').where('id', 'in', ids).execute();
    const free: { accountId: number; fileHash: string }[] = [];
    for (const g of gone) {
      const held = await this.db
        .selectFrom('code_versions')
        .select('id')
        .where('account_id', '=', g.account_id)
        .where('file_hash', '=', g.file_hash)
        .executeTakeFirst();
      if (held === undefined && !free.some((f) => f.accountId === g.account_id && f.fileHash === g.file_hash))
        free.push({ accountId: g.account_id, fileHash: g.file_hash });
    }
    return free;
  }

  async markCodeUploaded(accountId: number, fileHash: string, at: number): Promise<void> {
    await this.db
      .updateTable('code_versions')
      .set({ uploaded_at: at })
      .where('account_id', '=', accountId)
      .where('file_hash', '=', fileHash)
      .where('uploaded_at', 'is', null)
      .execute();
  }

  async addUploadToken(nonce: string, versionId: number, expiresAt: number): Promise<void> {
    await this.db.insertInto('code_upload_tokens').values({ nonce, version_id: versionId, expires_at: expiresAt, used_at: null }).execute();
  }

  async takeUploadToken(nonce: string, at: number): Promise<UploadTokenTake> {
    // One conditional UPDATE: of two racing takes only one changes the row.
    const r = await this.db.updateTable('code_upload_tokens').set({ used_at: at }).where('nonce', '=', nonce).where('used_at', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return 'taken';
    const known = await this.db.selectFrom('code_upload_tokens').select('nonce').where('nonce', '=', nonce).executeTakeFirst();
    return known === undefined ? 'unknown' : 'used';
  }
}

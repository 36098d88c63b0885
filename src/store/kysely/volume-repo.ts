import { sql, type Kysely, type Transaction } from 'kysely';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import { checkVolumeReady, type VolumeMount, type VolumeOfferRecord, type VolumeRecord } from '../../domain/volume/volume.js';
import type { LinkedVolume, NewVolume, VolumeStore } from '../volume-store.js';
import { Repo } from './repo.js';
import type { Database } from './schema.js';
import { toVolume, toVolumeOffer } from './volume-rows.js';
import { settleVolume, settleVolumeMeters } from './volume-meter.js';

/** Instances that still hold their resources: every status but `destroyed`. */
const LIVE_INSTANCE = 'destroyed';

/** Volume offers, volumes and their links into instances. */
export class VolumeRepo extends Repo implements VolumeStore {
  async upsertVolumeOffer(o: {
    machineId: number;
    ownerId: number;
    sizeGb: number;
    priceDiskPerGbMonth: number;
    endDate: number | null;
    now: number;
  }): Promise<VolumeOfferRecord> {
    const set = { size_gb: o.sizeGb, price_disk: o.priceDiskPerGbMonth, end_date: o.endDate, listed: 1 };
    await this.db
      .insertInto('volume_offers')
      .values({ machine_id: o.machineId, owner_id: o.ownerId, used_gb: 0, created_at: o.now, ...set })
      .onConflict((c) => c.column('machine_id').doUpdateSet(set))
      .execute();
    const row = await this.db.selectFrom('volume_offers').selectAll().where('machine_id', '=', o.machineId).executeTakeFirstOrThrow();
    return toVolumeOffer(row);
  }

  async getVolumeOffer(id: number): Promise<VolumeOfferRecord | undefined> {
    const row = await this.db.selectFrom('volume_offers').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toVolumeOffer(row);
  }

  async listVolumeOffers(o: { listedOnly: boolean; machineId?: number }): Promise<VolumeOfferRecord[]> {
    let q = this.db.selectFrom('volume_offers').selectAll().orderBy('id');
    if (o.listedOnly) q = q.where('listed', '=', 1);
    if (o.machineId !== undefined) q = q.where('machine_id', '=', o.machineId);
    return (await q.execute()).map(toVolumeOffer);
  }

  async setVolumeOfferListed(id: number, listed: boolean): Promise<void> {
    await this.db
      .updateTable('volume_offers')
      .set({ listed: listed ? 1 : 0 })
      .where('id', '=', id)
      .execute();
  }

  async createVolume(v: NewVolume): Promise<VolumeRecord> {
    const id = await transact(this.db, async (trx) => {
      // Checked and taken in one statement, so two rentals at once cannot both fit into the last space.
      const took = await trx
        .updateTable('volume_offers')
        .set({ used_gb: sql<number>`used_gb + ${v.sizeGb}` })
        .where('id', '=', v.offerId)
        .where('listed', '=', 1)
        .where(sql<boolean>`used_gb + ${v.sizeGb} <= size_gb`)
        .executeTakeFirst();
      const offer = await trx.selectFrom('volume_offers').selectAll().where('id', '=', v.offerId).executeTakeFirst();
      if (offer === undefined || offer.listed !== 1)
        throw new GantryError('VOLUME_OFFER_NOT_FOUND', `No listed volume offer with id ${v.offerId}; search volumes for current ids.`, { offerId: v.offerId });
      if (took.numUpdatedRows === 0n) {
        const free = Math.max(0, Number(offer.size_gb) - Number(offer.used_gb));
        throw new GantryError('VOLUME_SPACE_EXHAUSTED', `Volume offer ${v.offerId} has ${free} GB free; ${v.sizeGb} GB were asked for.`, {
          offerId: v.offerId,
          freeGb: free,
        });
      }
      const row = await trx
        .insertInto('volumes')
        .values({
          account_id: v.accountId,
          offer_id: v.offerId,
          machine_id: offer.machine_id,
          name: v.name,
          size_gb: v.sizeGb,
          price_disk: Number(offer.price_disk),
          created_at: v.now,
          deleted_at: null,
          meter_since: v.now,
          cloning_until: v.cloningUntil ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    });
    return (await this.getVolume(id)) as VolumeRecord;
  }

  async getVolume(id: number): Promise<VolumeRecord | undefined> {
    const row = await this.db.selectFrom('volumes').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    if (row === undefined) return undefined;
    return toVolume(row, (await this.#users(this.db, [id])).get(id) ?? []);
  }

  async listVolumes(o: { accountId: number | null; machineId?: number }): Promise<VolumeRecord[]> {
    let q = this.db.selectFrom('volumes').selectAll().where('deleted_at', 'is', null).orderBy('id');
    if (o.accountId !== null) q = q.where('account_id', '=', o.accountId);
    if (o.machineId !== undefined) q = q.where('machine_id', '=', o.machineId);
    const rows = await q.execute();
    const users = await this.#users(
      this.db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toVolume(r, users.get(r.id) ?? []));
  }

  async deleteVolume(id: number, now: number): Promise<void> {
    await transact(this.db, async (trx) => {
      await settleVolume(trx, id, now); // the last stretch, before the volume stops counting
      const row = await trx.selectFrom('volumes').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (row === undefined) throw new GantryError('VOLUME_NOT_FOUND', `No volume with id ${id}.`, { volumeId: id });
      const users = (await this.#users(trx, [id])).get(id) ?? [];
      if (users.length > 0)
        throw new GantryError('VOLUME_IN_USE', `Volume ${id} is linked into instance(s) ${users.join(', ')}; destroy them first.`, {
          volumeId: id,
          instanceIds: users,
        });
      const r = await trx.updateTable('volumes').set({ deleted_at: now }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (r.numUpdatedRows === 0n) throw new GantryError('VOLUME_NOT_FOUND', `No volume with id ${id}.`, { volumeId: id });
      await trx
        .updateTable('volume_offers')
        .set({ used_gb: sql<number>`CASE WHEN used_gb > ${Number(row.size_gb)} THEN used_gb - ${Number(row.size_gb)} ELSE 0 END` })
        .where('id', '=', row.offer_id)
        .execute();
    });
  }

  async confirmVolumeClone(id: number, now: number): Promise<boolean> {
    // Billed from here: the meter stood still while the copy ran (volume-meter.ts skips clones).
    const r = await this.db
      .updateTable('volumes')
      .set({ cloning_until: null, meter_since: now })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .where('cloning_until', 'is not', null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async expiredVolumeClones(now: number): Promise<VolumeRecord[]> {
    const rows = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where('cloning_until', '<=', now) // null (not a clone) compares false
      .orderBy('id')
      .execute();
    return rows.map((r) => toVolume(r, []));
  }

  async giveUpVolumeClone(id: number, now: number): Promise<boolean> {
    return transact(this.db, async (trx) => {
      // Only a row still cloning past its bound: a clone confirmed meanwhile stays, and of replicas giving it up
      // at once one deletes it and frees its space.
      const gone = await trx
        .updateTable('volumes')
        .set({ deleted_at: now })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where('cloning_until', '<=', now)
        .returning(['offer_id', 'size_gb'])
        .executeTakeFirst();
      if (gone === undefined) return false;
      const size = Number(gone.size_gb);
      await trx
        .updateTable('volume_offers')
        .set({ used_gb: sql<number>`CASE WHEN used_gb > ${size} THEN used_gb - ${size} ELSE 0 END` })
        .where('id', '=', gone.offer_id)
        .execute();
      return true;
    });
  }

  settleVolumeMeters(now: number): Promise<void> {
    return settleVolumeMeters(this.db, this.dialect, now);
  }

  async instanceVolumes(instanceId: number): Promise<VolumeMount[]> {
    const rows = await this.db
      .selectFrom('instance_volumes')
      .select(['volume_id', 'mount_path'])
      .where('instance_id', '=', instanceId)
      .orderBy('volume_id')
      .execute();
    return rows.map((r) => ({ volumeId: r.volume_id, mountPath: r.mount_path }));
  }

  async linkedVolumes(instanceIds: readonly number[]): Promise<Map<number, LinkedVolume[]>> {
    const out = new Map<number, LinkedVolume[]>();
    if (instanceIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('instance_volumes')
      .innerJoin('volumes', 'volumes.id', 'instance_volumes.volume_id')
      .select(['instance_volumes.instance_id', 'instance_volumes.volume_id', 'instance_volumes.mount_path', 'volumes.name', 'volumes.size_gb'])
      .where('instance_volumes.instance_id', 'in', [...instanceIds])
      .where('volumes.deleted_at', 'is', null)
      .orderBy('instance_volumes.instance_id')
      .orderBy('instance_volumes.volume_id')
      .execute();
    for (const r of rows) {
      const v: LinkedVolume = { volumeId: r.volume_id, mountPath: r.mount_path, name: r.name, sizeGb: Number(r.size_gb) };
      out.set(r.instance_id, [...(out.get(r.instance_id) ?? []), v]);
    }
    return out;
  }

  async deadVolumeIds(machineId: number, ids: readonly number[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const live = new Set(
      (
        await this.db
          .selectFrom('volumes')
          .select('id')
          .where('machine_id', '=', machineId)
          .where('deleted_at', 'is', null)
          .where('id', 'in', [...ids])
          .execute()
      ).map((r) => r.id),
    );
    return ids.filter((id) => !live.has(id));
  }

  /** Instances (not destroyed) linking each volume. */
  async #users(db: Kysely<Database> | Transaction<Database>, ids: readonly number[]): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    if (ids.length === 0) return out;
    const rows = await db
      .selectFrom('instance_volumes')
      .innerJoin('instances', 'instances.id', 'instance_volumes.instance_id')
      .select(['instance_volumes.volume_id', 'instance_volumes.instance_id'])
      .where('instance_volumes.volume_id', 'in', [...ids])
      .where('instances.status', '!=', LIVE_INSTANCE)
      .orderBy('instance_volumes.instance_id')
      .execute();
    for (const r of rows) out.set(r.volume_id, [...(out.get(r.volume_id) ?? []), r.instance_id]);
    return out;
  }
}

/**
 * Link volumes into a new instance inside its create transaction (kysely-store's createInstance), so the
 * reconciler never starts it without them. VOLUME_NOT_FOUND when one was deleted meanwhile.
 */
export async function linkVolumes(trx: Transaction<Database>, instanceId: number, mounts: readonly VolumeMount[]): Promise<void> {
  for (const m of mounts) {
    const live = await trx
      .selectFrom('volumes')
      .select(['id', 'cloning_until'])
      .where('id', '=', m.volumeId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (live === undefined) throw new GantryError('VOLUME_NOT_FOUND', `No volume with id ${m.volumeId}.`, { volumeId: m.volumeId });
    checkVolumeReady({ id: live.id, cloningUntil: live.cloning_until }, 'linked into an instance');
    await trx.insertInto('instance_volumes').values({ instance_id: instanceId, volume_id: m.volumeId, mount_path: m.mountPath }).execute();
  }
}

import { sql } from 'kysely';
import type { ScaleDecisionRecord } from '../../domain/serverless/scale-decision.js';
import type { SeriesName } from '../../domain/series.js';
import type { SamplePoint, SeriesStore } from '../series-store.js';
import { Repo } from './repo.js';

/** Instance disk is priced per GB-month; a month is 30 days, as `storagePerHour` counts it. */
const HOURS_PER_MONTH = 30 * 24;
/** Rows per statement: 4 parameters each keeps a write under SQLite's 32,766 parameters. */
const CHUNK = 5_000;

/** The samples and the autoscaler's decisions (0026); every write is one statement (a large fleet's, a few). */
export class SeriesRepo extends Repo implements SeriesStore {
  async sampleSpend(bucketAt: number): Promise<void> {
    // One set-based statement: the rates of what is metered now, summed per account, upserted.
    await sql`
      INSERT INTO samples (series, subject, bucket_at, value)
      SELECT 'spend', account_id, CAST(${bucketAt} AS bigint),
             SUM(CASE WHEN gpu_meter_since IS NOT NULL THEN dph_base ELSE 0 END
               + CASE WHEN disk_meter_since IS NOT NULL THEN storage_cost * disk_gb / ${sql.lit(HOURS_PER_MONTH)} ELSE 0 END)
      FROM instances
      WHERE gpu_meter_since IS NOT NULL OR disk_meter_since IS NOT NULL
      GROUP BY account_id
      ON CONFLICT (series, subject, bucket_at) DO UPDATE SET value = excluded.value`.execute(this.db);
  }

  async sampleQueue(bucketAt: number, freshSince: number): Promise<void> {
    // Endpoint 0 is a gateway's presence row, not an endpoint.
    await sql`
      INSERT INTO samples (series, subject, bucket_at, value)
      SELECT 'queue', endpoint_id, CAST(${bucketAt} AS bigint), SUM(pending)
      FROM gateway_pending
      WHERE updated_at >= ${freshSince} AND endpoint_id <> 0
      GROUP BY endpoint_id
      ON CONFLICT (series, subject, bucket_at) DO UPDATE SET value = excluded.value`.execute(this.db);
  }

  async putSamples(series: SeriesName, bucketAt: number, points: readonly SamplePoint[], merge: 'replace' | 'max'): Promise<void> {
    for (let i = 0; i < points.length; i += CHUNK) {
      const rows = points.slice(i, i + CHUNK).map((p) => ({ series, subject: p.subject, bucket_at: bucketAt, value: p.value }));
      await this.db
        .insertInto('samples')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['series', 'subject', 'bucket_at']).doUpdateSet({
            // `max`: each replica counts only its own traffic; the larger figure wins, a repeat never adds.
            value: merge === 'replace' ? sql`excluded.value` : sql`CASE WHEN excluded.value > samples.value THEN excluded.value ELSE samples.value END`,
          }),
        )
        .execute();
    }
  }

  async readSamples(series: SeriesName, subject: number, since: number, limit: number): Promise<[number, number][]> {
    const rows = await this.db
      .selectFrom('samples')
      .select(['bucket_at', 'value'])
      .where('series', '=', series)
      .where('subject', '=', subject)
      .where('bucket_at', '>=', since)
      .orderBy('bucket_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => [Number(r.bucket_at), Number(r.value)]);
  }

  async pruneSamples(before: number): Promise<number> {
    const r = await this.db.deleteFrom('samples').where('bucket_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async recordScaleDecision(d: ScaleDecisionRecord, keep: number): Promise<void> {
    await this.db
      .insertInto('scale_decisions')
      .values({
        endpoint_id: d.endpointId,
        at: d.at,
        active_target: d.activeTarget,
        total_target: d.totalTarget,
        started: d.started,
        created: d.created,
        stopped: d.stopped,
        destroyed: d.destroyed,
        reason: d.reason,
        refused: d.refused,
      })
      .execute();
    // The newest `keep` stay: everything at or below the id just past them goes.
    await sql`
      DELETE FROM scale_decisions WHERE endpoint_id = ${d.endpointId} AND id <= (
        SELECT id FROM scale_decisions WHERE endpoint_id = ${d.endpointId} ORDER BY id DESC LIMIT 1 OFFSET ${keep}
      )`.execute(this.db);
  }

  async listScaleDecisions(endpointId: number, limit: number): Promise<ScaleDecisionRecord[]> {
    const rows = await this.db.selectFrom('scale_decisions').selectAll().where('endpoint_id', '=', endpointId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      endpointId: Number(r.endpoint_id),
      at: Number(r.at),
      activeTarget: r.active_target,
      totalTarget: r.total_target,
      started: r.started,
      created: r.created,
      stopped: r.stopped,
      destroyed: r.destroyed,
      reason: r.reason,
      refused: r.refused,
    }));
  }
}

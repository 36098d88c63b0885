import type { ScaleDecisionRecord } from '../domain/serverless/scale-decision.js';
import type { SeriesName } from '../domain/series.js';

/** A series' value for one subject. */
export interface SamplePoint {
  readonly subject: number;
  readonly value: number;
}

/**
 * The time series the sampler writes (src/control/loops/sampler.ts) and the autoscaler's last decisions.
 * Every write is one statement; a sample is keyed by (series, subject, bucket), so a repeated or
 * concurrent write of a bucket replaces its row (or keeps the larger value, for per-replica counts).
 */
export interface SeriesStore {
  /** Spend rate ($/h) of every account with an open meter, computed from the instances in the same statement. */
  sampleSpend(bucketAt: number): Promise<void>;
  /** Requests held per endpoint by every gateway that published since `freshSince` (queued or in flight), in one statement. */
  sampleQueue(bucketAt: number, freshSince: number): Promise<void>;
  /** Write given values at a bucket: `replace` an existing row, or keep the `max` of it and the new value. */
  putSamples(series: SeriesName, bucketAt: number, points: readonly SamplePoint[], merge: 'replace' | 'max'): Promise<void>;
  /** A subject's points since `since` (ms), oldest first, at most `limit` (the newest ones when more). */
  readSamples(series: SeriesName, subject: number, since: number, limit: number): Promise<[number, number][]>;
  /** Delete samples of buckets before `before`; answers how many. */
  pruneSamples(before: number): Promise<number>;
  /** Add a decision and keep only the newest `keep` of its endpoint. */
  recordScaleDecision(d: ScaleDecisionRecord, keep: number): Promise<void>;
  /** An endpoint's decisions, newest first. */
  listScaleDecisions(endpointId: number, limit: number): Promise<ScaleDecisionRecord[]>;
}

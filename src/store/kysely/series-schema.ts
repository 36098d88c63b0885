import type { Generated } from 'kysely';

/** 0026: one value per series, subject and bucket start (ms), written by the sampler's upserts. */
export interface SampleTable {
  series: string;
  subject: number;
  bucket_at: number;
  value: number;
}

/** 0026: the autoscaler's decisions that changed something or were refused, the newest few per endpoint. */
export interface ScaleDecisionTable {
  id: Generated<number>;
  endpoint_id: number;
  at: number;
  active_target: number;
  total_target: number;
  started: number;
  created: number;
  stopped: number;
  destroyed: number;
  reason: string;
  refused: string | null;
}

export interface SeriesTables {
  samples: SampleTable;
  scale_decisions: ScaleDecisionTable;
}

import type { DefinitionProgress, PartsStamp, PipelineRecord, TrainedModelConfig, TrainedModelRecord, VocabularyRecord } from '../domain/ml/records.js';

/**
 * Trained models (config, definition parts, vocabulary) and ingest pipelines, per account. Definition
 * parts are rows of bytes in the database, one row per part: every control-plane replica sharing a
 * PostgreSQL sees a part as soon as the replica that took it commits, and reading a model back pulls
 * one part at a time (`readModelPart`), never the whole definition.
 */
export interface MlStore extends MlDefinitionStore {
  /** MODEL_EXISTS when the account has a model of this id. */
  /** `max`: most models the account may hold (TRAINED_MODEL_LIMIT past it; an id taken is MODEL_EXISTS first); 0 or absent: no bound. */
  createTrainedModel(m: { accountId: number; modelId: string; config: TrainedModelConfig; now: number; max?: number }): Promise<TrainedModelRecord>;
  getTrainedModel(accountId: number, modelId: string): Promise<TrainedModelRecord | undefined>;
  /** Sorted by model id. */
  listTrainedModels(accountId: number): Promise<TrainedModelRecord[]>;
  /** The model with its parts, vocabulary and aliases, in one transaction; false when there was none. */
  deleteTrainedModel(accountId: number, modelId: string): Promise<boolean>;

  /** Replaces the model's vocabulary; false when there is no such model. */
  putVocabulary(accountId: number, modelId: string, v: VocabularyRecord): Promise<boolean>;
  getVocabulary(accountId: number, modelId: string): Promise<VocabularyRecord | undefined>;

  /** Create or replace (keeping createdAt). `maxPerAccount`: most pipelines the account may hold (PIPELINE_LIMIT for a new one past it; a replacement always passes); 0 or absent: no bound. */
  putPipeline(accountId: number, id: string, body: Readonly<Record<string, unknown>>, now: number, maxPerAccount?: number): Promise<PipelineRecord>;
  getPipeline(accountId: number, id: string): Promise<PipelineRecord | undefined>;
  /** Sorted by id. */
  listPipelines(accountId: number): Promise<PipelineRecord[]>;
  deletePipelines(accountId: number, ids: readonly string[]): Promise<number>;

  /**
   * Point `alias` at `modelId`: 'created' (new, or moved with `reassign`), 'exists' (it already
   * points there), 'taken' (it points at another model and `reassign` is false; nothing changes).
   */
  putModelAlias(accountId: number, alias: string, modelId: string, reassign: boolean, now: number): Promise<'created' | 'exists' | 'taken'>;
  /** Only when the alias points at `modelId`; false otherwise. */
  deleteModelAlias(accountId: number, alias: string, modelId: string): Promise<boolean>;
  /** Sorted by alias. */
  listModelAliases(accountId: number): Promise<ModelAlias[]>;
}

export interface ModelAlias {
  readonly alias: string;
  readonly modelId: string;
}

/** What a definition part's write did: stored (the definition's progress and its parts' new stamp), or why not. */
export type PartWritten =
  | { ok: true; progress: DefinitionProgress; stamp: PartsStamp }
  | { ok: false; reason: 'no-model' | 'defined' | 'totals-differ' }
  | { ok: false; reason: 'over-limit'; heldBytes: number };

/**
 * A trained model's definition parts and the check of the whole they make. Every write or removal of a model's
 * parts moves its parts' version, in the statement that marks them changed; a check reads the version with the
 * parts (a `PartsStamp`), and its outcome is recorded only while the stamp is still the model's. The stamp holds
 * the time of the last part too: a model deleted and created again starts its version again, and replicas of an
 * earlier Gantry during an upgrade write parts without moving it.
 */
export interface MlDefinitionStore {
  /**
   * Store one definition part (a repeated index replaces the earlier bytes) and what the parts held
   * now add up to, with the parts' stamp this write made. A fully defined model takes none (`defined`):
   * nothing changes, its definition is what its deployments' workers load. The first part fixes the model's
   * totals; a part whose totals differ is refused (`totals-differ`) without being stored, so parts from any
   * replica agree. A part stored clears a refusal by the check (and housekeeping's claims of the whole) until
   * the whole is checked again, and marks the model's parts as touched at `now`.
   * With `maxAccountBytes` above 0, a part that would take the bytes of all the account's parts (the
   * part it replaces not counted) past it is refused (`over-limit`, with the bytes held) without being
   * stored; parts of one account are stored one at a time, on every replica, so the bound is exact.
   */
  putModelPart(
    accountId: number,
    modelId: string,
    p: { index: number; totalParts: number; totalDefinitionLength: number; bytes: Uint8Array },
    o: { now: number; maxAccountBytes: number },
  ): Promise<PartWritten>;
  /**
   * Forget the parts of every model whose last part arrived before `before` and that is not fully defined: parts
   * missing (or lengths not adding up to the declared total), or the whole refused by its check. The parts go, and
   * the model's totals are cleared, so its upload starts again from nothing. A part that arrives meanwhile keeps
   * its model; so does a whole set whose check never ended (see `uncheckedDefinitions`). Returns the models
   * forgotten so.
   */
  forgetIncompleteDefinitions(before: number): Promise<{ accountId: number; modelId: string }[]>;
  /**
   * Models whose parts are all there, got none since `before`, were not claimed since `before`
   * (`claimDefinitionCheck`), and whose check has no recorded outcome (a crash, or a database error while it
   * read them back): a bounded batch, to be checked again, with their claims since the parts last changed.
   */
  uncheckedDefinitions(before: number): Promise<{ accountId: number; modelId: string; totalParts: number; stamp: PartsStamp; attempts: number }[]>;
  /**
   * Take an unchecked whole definition (`uncheckedDefinitions`) to check it again: its claim time moves to `now`
   * and its attempts to `attempts + 1`, so no other pass, here or at another replica, takes it before its own wait
   * is over again (a check that brings its process down is not run again at once, forever). The parts' stamp does
   * not move: a check of the same parts still under way records its outcome. False when a part came, a check
   * ended, or another pass claimed it, since it was listed (`stamp`, `attempts`).
   */
  claimDefinitionCheck(accountId: number, modelId: string, stamp: PartsStamp, attempts: number, now: number): Promise<boolean>;
  /**
   * Refuse an unchecked whole definition whose checks never ended, with `reason`: only while its parts, its
   * attempts and the absence of an outcome are as listed (`uncheckedDefinitions`). True when written.
   */
  giveUpDefinitionCheck(accountId: number, modelId: string, stamp: PartsStamp, attempts: number, reason: string): Promise<boolean>;
  /** One part's bytes (undefined: not uploaded). */
  readModelPart(accountId: number, modelId: string, index: number): Promise<Uint8Array | undefined>;
  /**
   * Record the outcome of checking the assembled definition: passed (fully defined), or refused (`refusal`: why,
   * for the owner). With `stamp`, only while the parts are those the check read (none came or went since) and the
   * model is not fully defined: a check that ran long never writes over a check of newer parts; over a refusal of
   * the same parts it may (the scan of the same bytes says the same, and a definition given up on while its
   * check was still under way gets that check's outcome). True when written.
   */
  setModelDefinitionChecked(
    accountId: number,
    modelId: string,
    r: { fullyDefined: boolean; onnx: unknown; refusal?: string },
    stamp?: PartsStamp,
  ): Promise<boolean>;
}

import { GantryError } from '../errors.js';

/**
 * Elasticsearch's rule for model and deployment ids (MlStrings.VALID_ID_CHAR_PATTERN): lowercase
 * letters, digits, `-`, `_` and `.` (Eland names models `baai__bge-small-en-v1.5`), alphanumeric at
 * both ends; at most 64 (MlStrings.ID_LENGTH_LIMIT).
 */
export const MODEL_ID_RULE = /^[a-z0-9](?:[a-z0-9_.-]{0,62}[a-z0-9])?$/;

/**
 * Elasticsearch's rule for model aliases (PutTrainedModelAliasAction): the id characters, starting
 * alphanumeric and ending with a letter (never a digit, so an alias cannot look like a versioned model
 * id). Gantry bounds it to 64 like ids.
 */
export const MODEL_ALIAS_RULE = /^[a-z0-9](?:[a-z0-9_.-]{0,62}[a-z])?$/;

/** A model id, or a deployment id (the same rule). */
export function checkModelId(id: string, field: 'model_id' | 'deployment_id' = 'model_id'): void {
  if (!MODEL_ID_RULE.test(id)) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `Invalid ${field}; '${id}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores (and dots inside); must start and end with alphanumeric, and be at most 64 characters.`,
      { field },
    );
  }
}

/** A model alias: Elasticsearch's rule and words. */
export function checkModelAlias(alias: string): void {
  if (!MODEL_ALIAS_RULE.test(alias)) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `Invalid model_alias; '${alias}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start with alphanumeric and cannot end with numbers (dots are allowed inside; at most 64 characters).`,
      { field: 'model_alias' },
    );
  }
}

/**
 * Gantry runs ONNX only. A TorchScript model (`pytorch`, what Eland uploads) cannot run in Node, so it
 * is refused with the way out: export the same Hugging Face model to ONNX and upload that.
 */
export function checkModelType(modelType: string): 'onnx' {
  if (modelType === 'onnx') return 'onnx';
  if (modelType === 'pytorch') {
    throw new GantryError(
      'MODEL_TYPE_UNSUPPORTED',
      'model_type [pytorch] (TorchScript) is not supported by Gantry, which runs ONNX models: export the model to ONNX ' +
        '(for example `optimum-cli export onnx --model <hf-model> out/`) and upload it with model_type [onnx]; see docs/elastic-models.md.',
      { modelType },
    );
  }
  if (modelType === 'tree_ensemble' || modelType === 'lang_ident') {
    throw new GantryError('MODEL_TYPE_UNSUPPORTED', `model_type [${modelType}] is not supported by Gantry; it runs NLP models of model_type [onnx].`, {
      modelType,
    });
  }
  throw new GantryError('INVALID_ARGUMENT', `Unknown model_type [${modelType}]; Gantry accepts [onnx].`, { field: 'model_type' });
}

/** The caller has no model of this id (Gantry's words; Elasticsearch's type, resource_not_found_exception). */
export function modelNotFound(modelId: string): GantryError {
  return new GantryError('MODEL_NOT_FOUND', `No known trained model with model_id [${modelId}]`, { modelId });
}

/** The model is not fully defined: Elasticsearch's words when a start names one. */
export function definitionMissing(modelId: string): GantryError {
  return new GantryError('MODEL_DEFINITION_MISSING', `Could not find trained model definition [${modelId}]`, { modelId });
}

/**
 * A part PUT on a fully defined model: Elasticsearch's answer to a part it holds already (it writes each part
 * once). Its definition is what running and future workers load, so it is not changed by a part.
 */
export function definitionPartExists(modelId: string, part: number): GantryError {
  return new GantryError('MODEL_DEFINITION_EXISTS', `Trained machine learning model chunked doc [${modelId}][${part}] already exists`, { modelId, part });
}

/** One definition part as uploaded (already decoded from base64). */
export interface DefinitionPart {
  readonly index: number;
  readonly totalParts: number;
  readonly totalDefinitionLength: number;
  readonly bytes: Uint8Array;
}

function invalidPart(msg: string, details: Record<string, unknown> = {}): GantryError {
  return new GantryError('MODEL_DEFINITION_INVALID', msg, details);
}

/** Bounds on a definition's totals: they fit the store's integer columns on every database, and a model Gantry can load. */
export const MAX_PARTS = 100_000;
export const MAX_DEFINITION_BYTES = 16 * 2 ** 30;

/** A part on its own: index within the totals, totals positive, the part not longer than the whole. */
export function checkPart(p: DefinitionPart): void {
  if (!Number.isSafeInteger(p.totalParts) || p.totalParts < 1 || p.totalParts > MAX_PARTS) {
    throw invalidPart(`[total_parts] must be an integer from 1 to ${MAX_PARTS}.`);
  }
  if (!Number.isSafeInteger(p.totalDefinitionLength) || p.totalDefinitionLength < 1 || p.totalDefinitionLength > MAX_DEFINITION_BYTES) {
    throw invalidPart(`[total_definition_length] must be an integer from 1 to ${MAX_DEFINITION_BYTES} (${MAX_DEFINITION_BYTES / 2 ** 30} GiB).`);
  }
  if (!Number.isSafeInteger(p.index) || p.index < 0 || p.index >= p.totalParts) {
    throw invalidPart(`part [${p.index}] must be at least 0 and less than total_parts [${p.totalParts}].`, { part: p.index });
  }
  if (p.bytes.length === 0) throw invalidPart(`part [${p.index}] is empty.`, { part: p.index });
  if (p.bytes.length > p.totalDefinitionLength) {
    throw invalidPart(`part [${p.index}] has ${p.bytes.length} bytes, more than total_definition_length [${p.totalDefinitionLength}].`, { part: p.index });
  }
}

/** What the parts held so far mean: keep waiting, check the whole, or a length that can no longer add up. */
export function definitionState(held: { parts: number; bytes: number }, totals: { totalParts: number; totalDefinitionLength: number }): 'partial' | 'complete' {
  if (held.bytes > totals.totalDefinitionLength) {
    throw invalidPart(`The parts hold ${held.bytes} bytes, more than total_definition_length [${totals.totalDefinitionLength}].`);
  }
  if (held.parts < totals.totalParts) return 'partial';
  if (held.bytes !== totals.totalDefinitionLength) {
    throw invalidPart(`All ${totals.totalParts} parts arrived with ${held.bytes} bytes, but total_definition_length is [${totals.totalDefinitionLength}].`);
  }
  return 'complete';
}

/** A `*` pattern over ids. */
export interface IdPattern {
  test(id: string): boolean;
}

/**
 * A `*` pattern matched in linear time (two pointers, back to the last star on a mismatch): a
 * regular expression of the same pattern backtracks exponentially on ids like `aaaa…` against
 * `*a*a*a*b`, and ids and patterns come from callers.
 */
export function globPattern(pattern: string): IdPattern {
  const p = pattern.replace(/\*+/g, '*');
  return {
    test(s: string): boolean {
      let i = 0;
      let j = 0;
      let star = -1;
      let mark = 0;
      while (i < s.length) {
        if (j < p.length && p[j] !== '*' && p[j] === s[i]) {
          i++;
          j++;
        } else if (j < p.length && p[j] === '*') {
          star = j++;
          mark = i;
        } else if (star >= 0) {
          j = star + 1;
          i = ++mark;
        } else return false;
      }
      while (j < p.length && p[j] === '*') j++;
      return j === p.length;
    },
  };
}

/** An id expression as Elasticsearch reads one: `*`, `_all`, or csv of ids and `*` patterns. */
export interface IdExpression {
  readonly all: boolean;
  readonly exact: readonly string[];
  readonly patterns: readonly IdPattern[];
  /** The csv's items in order (exact ids and patterns), for the error that names what matched nothing. */
  readonly tokens: readonly string[];
}

export function parseIdExpression(expr: string | null | undefined): IdExpression {
  const items = (expr ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0 || items.some((s) => s === '_all' || s === '*')) return { all: true, exact: [], patterns: [], tokens: ['*'] };
  return {
    all: false,
    exact: items.filter((s) => !s.includes('*')),
    patterns: items.filter((s) => s.includes('*')).map(globPattern),
    tokens: items,
  };
}

/**
 * The ids an expression picks among `ids`, sorted; plus the explicit ids that are missing and whether
 * a pattern matched nothing (Elasticsearch: a missing explicit id is always an error; an empty
 * pattern only with allow_no_match=false).
 */
export function matchIds(e: IdExpression, ids: readonly string[]): { ids: string[]; missing: string[]; emptyPattern: boolean } {
  const have = new Set(ids);
  if (e.all) return { ids: [...ids].sort(), missing: [], emptyPattern: ids.length === 0 };
  const out = new Set<string>(e.exact.filter((id) => have.has(id)));
  let emptyPattern = false;
  for (const p of e.patterns) {
    const hits = ids.filter((id) => p.test(id));
    if (hits.length === 0) emptyPattern = true;
    for (const h of hits) out.add(h);
  }
  return { ids: [...out].sort(), missing: e.exact.filter((id) => !have.has(id)), emptyPattern };
}

/**
 * What Elasticsearch's ExpandedIdsMatcher names in "No known trained model with model_id [..]": the
 * tokens that matched nothing, in the order given, joined by `,`: explicit ids always, patterns only
 * with allow_no_match=false (`_all` or `*` matching nothing is `*`). Empty: nothing to refuse.
 * `resolve` maps an explicit id to the id it names (a model alias to its model).
 */
export function unmatchedIds(e: IdExpression, ids: readonly string[], allowNoMatch: boolean, resolve: (id: string) => string = (id) => id): string[] {
  if (e.all) return !allowNoMatch && ids.length === 0 ? ['*'] : [];
  const have = new Set(ids);
  return e.tokens.filter((t) => (t.includes('*') ? !allowNoMatch && !ids.some((id) => globPattern(t).test(id)) : !have.has(resolve(t))));
}

import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Database } from './schema.js';

/**
 * `fully_defined`: the check of the assembled parts passed (1), refused them (-1: by the scan, or given up on
 * after housekeeping took it again too often with no end; `definition_refusal` says which), or has not run to
 * its end (0: parts missing, or the check cut short, by a crash or a database error while reading them back).
 */
export const DEFINED = 1;
export const UNCHECKED = 0;
export const REFUSED = -1;

/** Every part below total_parts is there, and their lengths add up to the declared total. */
export const allPartsHeld = (eb: ExpressionBuilder<Database, 'ml_models'>): Expression<SqlBool> => {
  const held = eb
    .selectFrom('ml_model_parts')
    .whereRef('ml_model_parts.account_id', '=', 'ml_models.account_id')
    .whereRef('ml_model_parts.model_id', '=', 'ml_models.model_id')
    .whereRef('ml_model_parts.part', '<', 'ml_models.total_parts');
  return eb.and([
    eb(held.select(sql<number>`count(*)`.as('n')), '=', eb.ref('ml_models.total_parts')),
    eb(held.select(sql<number>`sum(length)`.as('n')), '=', eb.ref('ml_models.total_definition_length')),
  ]);
};

/**
 * Parts that no part since `before` came to complete: missing some, or refused by the check. A whole set whose
 * check never ended is not among them: housekeeping checks it again (`uncheckedDefinitions`).
 */
export const forgettable =
  (before: number) =>
  (eb: ExpressionBuilder<Database, 'ml_models'>): Expression<SqlBool> =>
    eb.and([
      eb('ml_models.parts_updated_at', '<', before),
      eb.or([eb('ml_models.fully_defined', '=', REFUSED), eb.and([eb('ml_models.fully_defined', '=', UNCHECKED), eb.not(allPartsHeld(eb))])]),
    ]);

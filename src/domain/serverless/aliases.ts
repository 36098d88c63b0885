import { GantryError } from '../errors.js';

/**
 * The refusals of route aliases' rules, one text whichever layer finds them: the use cases check on what they
 * read, the store again as it writes (an alias's target, held in the alias's transaction).
 */

export function aliasTargetMissing(aliasOf: string): GantryError {
  return new GantryError('ENDPOINT_NOT_FOUND', `'aliasOf' names no endpoint of yours: '${aliasOf}'.`, { field: 'aliasOf' });
}

export function aliasOfAlias(aliasOf: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', `'aliasOf' names '${aliasOf}', itself an alias; point at the endpoint it routes to.`, { field: 'aliasOf' });
}

/** An alias may not take a name live aliases route to: they would route to an alias, one level being all routing follows. */
export function aliasNameRoutedTo(name: string, refs: readonly string[], field: string): GantryError {
  return new GantryError(
    'INVALID_ARGUMENT',
    `${refs.join(', ')} route${refs.length === 1 ? 's' : ''} to '${name}': a route alias cannot take that name, since an alias's target must serve itself.`,
    { field, references: refs },
  );
}

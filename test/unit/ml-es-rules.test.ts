import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseByteSize, printByteSize } from '../../src/api/dialects/elastic/byte-size.js';
import { allocationStatus } from '../../src/api/dialects/elastic/stats.js';
import { adaptiveChanges, adaptiveEnv, adaptiveOfEnv, mergeAdaptive, workerBounds } from '../../src/control/ml/adaptive.js';
import { GantryError } from '../../src/domain/errors.js';
import { checkModelAlias, checkModelId, parseIdExpression, unmatchedIds } from '../../src/domain/ml/models.js';

const refused = (f: () => unknown, reason: RegExp | string): void =>
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof GantryError);
    if (typeof reason === 'string') assert.equal(e.message, reason);
    else assert.match(e.message, reason);
    return true;
  });

/** Elasticsearch's rules that the dialect copies: ids and aliases (MlStrings, PutTrainedModelAliasAction), ByteSizeValue, adaptive settings, unmatched ids. */
describe('Elasticsearch rules', () => {
  it('takes model and deployment ids as MlStrings.VALID_ID_CHAR_PATTERN does: dots inside', () => {
    for (const id of ['baai__bge-small-en-v1.5', 'a', 'a.b', 'x-1_2.3', 'm'.repeat(64)]) {
      checkModelId(id);
      checkModelId(id, 'deployment_id');
    }
    for (const id of ['.lead', 'trail.', 'Upper', '-lead', 'trail_', 'a b', 'a/b', '_all', 'm'.repeat(65)]) refused(() => checkModelId(id), /Invalid model_id/);
  });

  it('takes aliases as PutTrainedModelAliasAction does: dots inside, a letter at the end', () => {
    for (const a of ['current', 'a', 'bge.latest', 'e5_small-x', '1st']) checkModelAlias(a);
    for (const a of ['v1', 'bge-1.5', 'trail.', 'Bad', '.lead', 'x-'])
      refused(() => checkModelAlias(a), /^Invalid model_alias; '.*' .*cannot end with numbers/);
  });

  it('names what matched nothing as ExpandedIdsMatcher does', () => {
    const ids = ['m1', 'm2', 'other'];
    const un = (expr: string, allowNoMatch: boolean): string[] => unmatchedIds(parseIdExpression(expr), ids, allowNoMatch);
    assert.deepEqual(un('m1,x*', false), ['x*']);
    assert.deepEqual(un('m1,x*', true), []);
    assert.deepEqual(un('nope,m1,x*,y', false), ['nope', 'x*', 'y']);
    assert.deepEqual(un('nope,x*', true), ['nope']);
    assert.deepEqual(un('m*,o*', false), []);
    assert.deepEqual(unmatchedIds(parseIdExpression('_all'), [], false), ['*']);
    assert.deepEqual(unmatchedIds(parseIdExpression('*'), [], true), []);
    assert.deepEqual(
      unmatchedIds(parseIdExpression('alias,x'), ids, true, (id) => (id === 'alias' ? 'm2' : id)),
      ['x'],
      'an alias resolves to its model',
    );
  });

  it('parses cache_size as ByteSizeValue.parseBytesSizeValue and writes it back as getStringRep', () => {
    const rep = (v: string): string => parseByteSize(v, 'cache_size').rep;
    assert.equal(rep('10mb'), '10mb');
    assert.equal(rep('10MB'), '10mb');
    assert.equal(rep('10m'), '10mb');
    assert.equal(rep(' 2 gb '), '2gb');
    assert.equal(rep('512b'), '512b');
    assert.equal(rep('1k'), '1kb');
    assert.equal(rep('0'), '0');
    assert.equal(rep('0kb'), '0');
    assert.equal(rep('-1'), '-1');
    assert.equal(rep('1.5kb'), '1536b');
    assert.equal(rep('1.25mb'), '1310720b');
    assert.equal(rep('0.5gb'), '536870912b');
    assert.equal(rep('1.0gb'), '1gb');
    assert.equal(parseByteSize('8191pb', 'cache_size').bytes, 8191n * 2n ** 50n);
    const bad = (v: string, reason: string): void => {
      assert.throws(
        () => parseByteSize(v, 'cache_size'),
        (e: unknown) => e instanceof GantryError && e.message === reason && e.details.esType === 'parse_exception',
        v,
      );
    };
    bad('abc', 'failed to parse setting [cache_size] with value [abc] as a size in bytes: unit is missing or unrecognized');
    bad('10', 'failed to parse setting [cache_size] with value [10] as a size in bytes: unit is missing or unrecognized');
    bad('xmb', 'failed to parse setting [cache_size] with value [xmb]');
    bad('1.5b', 'failed to parse setting [cache_size] with value [1.5b]');
    bad('-5kb', 'failed to parse setting [cache_size] with value [-5kb] as a size in bytes');
    bad('-2b', 'failed to parse setting [cache_size] with value [-2b] as a size in bytes');
    bad('-1.5kb', 'failed to parse setting [cache_size] with value [-1.5kb]');
    bad('1.555kb', 'failed to parse setting [cache_size] with more than two decimals in value [1.555kb]');
    bad('8192pb', 'failed to parse setting [cache_size] with value [8192pb] as a size in bytes');
    bad('99999999999999999999kb', 'failed to parse setting [cache_size] with value beyond 9223372036854775807: [99999999999999999999kb]');
    // The decimal is Java's BigDecimal: exponents, a sign and bare points are numbers; its scale (places less the exponent) is at most 2.
    assert.equal(rep('1e3kb'), '1000kb');
    assert.equal(rep('1.5E2mb'), '150mb');
    assert.equal(rep('+1.5e1m'), '15mb');
    assert.equal(rep('1e-2kb'), '11b');
    assert.equal(rep('1.234e1kb'), '12637b');
    assert.equal(rep('.5k'), '512b');
    assert.equal(rep('-0.0kb'), '0');
    bad('1e-3kb', 'failed to parse setting [cache_size] with more than two decimals in value [1e-3kb]');
    bad('1.500kb', 'failed to parse setting [cache_size] with more than two decimals in value [1.500kb]');
    bad('1e400kb', 'failed to parse setting [cache_size] with value beyond 9223372036854775807: [1e400kb]');
    bad('1e3b', 'failed to parse setting [cache_size] with value [1e3b]');
    bad('1e', 'failed to parse setting [cache_size] with value [1e] as a size in bytes: unit is missing or unrecognized');
    bad('e3kb', 'failed to parse setting [cache_size] with value [e3kb]');
  });

  it('prints a byte size as ByteSizeValue.toString, as _stats shows cache_size: one decimal at most, truncated', () => {
    for (const [bytes, shown] of [
      [0n, '0b'],
      [-1n, '-1b'],
      [1023n, '1023b'],
      [1024n, '1kb'],
      [1536n, '1.5kb'],
      [1630n, '1.5kb'],
      [10n * 2n ** 20n, '10mb'],
      // 1.1gb is 1181116006.4 bytes: a byte less than that shows 1gb, the byte above it 1.1gb.
      [2n ** 30n + 2n ** 30n / 10n, '1gb'],
      [2n ** 30n + 2n ** 30n / 10n + 1n, '1.1gb'],
      [(1n << 63n) - 1n, '8192pb'],
    ] as const)
      assert.equal(printByteSize(bytes), shown, String(bytes));
  });

  it('merges adaptive settings as AdaptiveAllocationsSettings.merge and keeps them whole in the env', () => {
    const stored = { enabled: true, min: 1, max: 4 };
    assert.deepEqual(mergeAdaptive(stored, { enabled: false }), { enabled: false, min: 1, max: 4 });
    assert.deepEqual(mergeAdaptive(stored, { max: 8 }), { enabled: true, min: 1, max: 8 });
    assert.deepEqual(mergeAdaptive(stored, { min: null }), { enabled: true, min: null, max: 4 }, 'null clears');
    assert.deepEqual(mergeAdaptive(null, { enabled: true }), { enabled: true, min: null, max: null });
    for (const a of [stored, { enabled: false, min: 1, max: 4 }, { enabled: null, min: null, max: 2 }, null])
      assert.deepEqual(adaptiveOfEnv(adaptiveEnv(a), { minWorkers: 9, maxWorkers: 9 }), a);
    assert.deepEqual(adaptiveOfEnv('true', { minWorkers: 1, maxWorkers: 3 }), { enabled: true, min: 1, max: 3 }, 'as stored before');
    assert.deepEqual(workerBounds(2, { enabled: false, min: 1, max: 4 }), { minWorkers: 2, maxWorkers: 2, minLoad: 2 }, 'disabled: fixed');
    assert.deepEqual(workerBounds(2, { enabled: true, min: 1, max: 4 }), { minWorkers: 1, maxWorkers: 4, minLoad: 1 });
  });

  it('shows allocation_status only for a starting or started assignment, as TransportGetDeploymentStatsAction does', () => {
    const status = (state: 'starting' | 'started' | 'stopping' | 'failed', allocations: number, targetAllocations: number) =>
      allocationStatus({ state, allocations, targetAllocations }).allocation_status?.state;
    assert.equal(status('starting', 0, 1), 'starting');
    assert.equal(status('started', 1, 2), 'started');
    assert.equal(status('started', 2, 2), 'fully_allocated');
    assert.equal(status('started', 0, 0), 'fully_allocated', 'none wanted, none there');
    // A stop that ended failed (its workers outlived the bound), and a stop in progress: no allocation_status at all.
    assert.deepEqual(allocationStatus({ state: 'failed', allocations: 0, targetAllocations: 1 }), {});
    assert.deepEqual(allocationStatus({ state: 'stopping', allocations: 1, targetAllocations: 1 }), {});
  });

  it("counts an _update's adaptive settings as a change as Elasticsearch's hasUpdates: as given, not merged", () => {
    const stored = { enabled: true, min: 1, max: 2 };
    assert.equal(adaptiveChanges(stored, { enabled: true, min: 1, max: 2 }), false, 'the settings it has');
    assert.equal(adaptiveChanges({ enabled: true, min: null, max: null }, { enabled: true }), false, 'exactly what is stored');
    // Merged, these keep what is stored; Elasticsearch compares them as given, so each is an update.
    assert.equal(adaptiveChanges(stored, { enabled: true }), true, 'min and max left out compare as unset');
    assert.equal(adaptiveChanges(stored, {}), true);
    // A null min or max is -1 (clear) in Elasticsearch's request, which nothing stored equals.
    assert.equal(adaptiveChanges({ enabled: true, min: null, max: 2 }, { enabled: true, min: null, max: 2 }), true);
    assert.equal(adaptiveChanges({ enabled: true, min: 1, max: null }, { enabled: true, min: 1, max: null }), true);
    assert.equal(adaptiveChanges(null, { enabled: false }), true, 'none stored');
    assert.equal(adaptiveChanges(null, 'reset'), true, 'reset, whatever is stored');
    assert.equal(adaptiveChanges(stored, 'reset'), true);
  });
});

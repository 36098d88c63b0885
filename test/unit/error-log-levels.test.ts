import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { vastDialect } from '../../src/api/dialects/vast/plugin.js';
import { renderError } from '../../src/api/edge/mount.js';
import { GantryError } from '../../src/domain/errors.js';

/** The level each refusal is logged at: faults are errors and warnings, a caller's own situation is information. */
describe('error log levels', () => {
  const levelOf = (err: unknown): string => {
    const seen: string[] = [];
    const at = (level: string) => () => void seen.push(level);
    const log = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as FastifyBaseLogger;
    renderError(vastDialect, err, { id: 'req-1', url: '/endpoints/x/', method: 'POST' }, log);
    assert.equal(seen.length, 1);
    return seen[0]!;
  };

  it('a stopped endpoint or one without workergroup is the caller’s situation (info); the database gone is a warning; a bug an error', () => {
    assert.equal(levelOf(new GantryError('ENDPOINT_STOPPED', 'stopped')), 'info');
    assert.equal(levelOf(new GantryError('NO_WORKERGROUP', 'none')), 'info');
    assert.equal(levelOf(new GantryError('DATABASE_UNAVAILABLE', 'gone')), 'warn');
    assert.equal(levelOf(new GantryError('INVALID_ARGUMENT', 'bad')), 'info');
    assert.equal(levelOf(new GantryError('CALLER_LEFT', 'gone')), 'debug');
    assert.equal(levelOf(new Error('boom')), 'error');
  });
});

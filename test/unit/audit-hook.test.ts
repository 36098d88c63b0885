import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditHook } from '../../src/api/edge/audit.js';
import type { AuditEntry } from '../../src/domain/account/records.js';

/** A state-changing call with no known caller, as the edge sees it once answered with `status`. */
function answered(path: string, status: number): [FastifyRequest, FastifyReply] {
  const req = {
    method: 'PUT',
    url: path,
    ip: '192.0.2.1',
    id: 'req-1',
    routeOptions: { config: {}, url: '/api/v0/instances/:id/' },
    log: { error: () => undefined },
  };
  return [req as unknown as FastifyRequest, { statusCode: status } as FastifyReply];
}

/**
 * The audit log records every state-changing call, failures included; but a call refused before its caller
 * was known wrote a row too, and anyone could grow the table without a key, as fast as the edge answers.
 */
describe('audit rows of calls with no known caller', () => {
  it('none for a refusal before the caller is known (401, 429); other answers are kept, their path cut to 256 characters', async () => {
    const rows: AuditEntry[] = [];
    const hook = auditHook(
      async (e) => void rows.push(e),
      () => 1,
    );
    const long = `/api/v0/instances/${'9'.repeat(600)}/`;
    for (const status of [401, 429]) await hook(...answered(long, status));
    assert.equal(rows.length, 0);
    await hook(...answered(long, 404));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.path, long.slice(0, 256));
    assert.equal(rows[0]?.accountId, null);
  });
});

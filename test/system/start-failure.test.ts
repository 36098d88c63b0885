import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ApiDialect } from '../../src/api/edge/dialect.js';
import { startTestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { ONE_STORE_PG } from '../helpers/stores.js';

/** A dialect whose routes cannot be mounted: the start fails after the store, the embedded host and its agent are up. */
const broken: ApiDialect = {
  name: 'broken',
  prefixes: ['/broken/'],
  errorBody: (error) => ({ error: error.code }),
  routes() {
    throw new Error('this dialect cannot mount its routes');
  },
};

/**
 * A start that fails part way, in a process that goes on (a test, the bench, a program that embeds Gantry):
 * what it opened is closed again. It left its data dir locked (by a process still alive, so never taken
 * over), its database open and its agent heartbeating.
 */
// PostgreSQL where the run has it: its listening connection is what a failed start left open there.
for (const ts of ONE_STORE_PG) {
  describe(`a start that fails part way (${ts.name})`, { skip: ts.skip }, () => {
    it('closes what it opened: the same data dir starts again in the same process', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'gantry-start-failure-'));
      try {
        const database = ts.name === 'sqlite' ? null : await ts.fresh(dataDir);
        // Timers, and connections over TCP or a Unix socket (the tests' PostgreSQL is reached through one).
        const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap' || r === 'PipeWrap').length;
        const before = timers();
        await assert.rejects(startTestGantry(ts, { dataDir, database, dialects: [broken] }), /cannot mount its routes/);
        // Closing is asynchronous (a socket's close, a pool's end): on a busy machine it takes longer than a
        // moment, so the count is awaited; what a failed start leaks stays.
        await until('no timer or connection of the failed start left', async () => timers() === before, 10_000).catch(() => undefined);
        assert.equal(timers(), before, 'no timer or connection of the failed start is left');
        const g = await startTestGantry(ts, { dataDir, database });
        try {
          assert.equal((await g.api('GET', '/api/v0/machines/')).status, 200);
        } finally {
          await g.dispose();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
}

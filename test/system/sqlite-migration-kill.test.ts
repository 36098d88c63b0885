import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

const sqlite = TEST_STORES.find((s) => s.name === 'sqlite') as (typeof TEST_STORES)[number];

/**
 * A process killed while it migrates a SQLite database (kill -9, OOM, power: during a first start or an
 * upgrade) must leave it as it was before that migration, or the next start fails on a migration half
 * applied ("table … already exists") and never starts again. The child below migrates a fresh database and
 * kills itself with SIGKILL just before the statement in the middle of a migration of several.
 */
const CHILD = `
const [sqliteUrl, dialectUrl, storeUrl, file] = process.argv.slice(1);
const { default: Database } = await import(sqliteUrl);
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (text) {
  if (/^create table "settings"/.test(text)) process.kill(process.pid, 'SIGKILL');
  return prepare.call(this, text);
};
const { sqliteDialect } = await import(dialectUrl);
const { KyselyStore } = await import(storeUrl);
await new KyselyStore(sqliteDialect(file)).migrate();
`;

describe('a SQLite migration cut short by kill -9', { skip: sqlite.skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-migration-kill-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('leaves nothing of that migration: the next start migrates to the end and serves', async () => {
    const file = join(dir, 'gantry.db');
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        CHILD,
        import.meta.resolve('better-sqlite3'),
        new URL('../../src/store/dialects/sqlite.js', import.meta.url).href,
        new URL('../../src/store/kysely/kysely-store.js', import.meta.url).href,
        file,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const signal = await new Promise((resolve) => child.once('exit', (_code, s) => resolve(s)));
    assert.equal(signal, 'SIGKILL', `the child ended otherwise: ${err}`);

    const store = new KyselyStore(sqlite.dialect(file));
    try {
      await store.migrate();
      const a = await store.createAccount({ username: 'after-crash', email: 'a@x', isAdmin: false, now: 1 });
      assert.equal((await store.getAccount(a.id))?.username, 'after-crash');
    } finally {
      await store.close();
    }
  });
});

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

const mode = async (p: string): Promise<string> => ((await stat(p)).mode & 0o777).toString(8);

for (const ts of TEST_STORES) {
  describe(`data dir modes (${ts.name})`, { skip: ts.skip }, () => {
    it('keys, database, host files and folders are owner-only whatever the umask', async () => {
      const old = process.umask(0);
      const dataDir = await mkdtemp(join(tmpdir(), 'gantry-modes-'));
      await chmod(dataDir, 0o777);
      try {
        const g = await startTestGantry(ts, { dataDir });
        try {
          const c = await g.api('PUT', `/api/v0/asks/${(await g.api('GET', '/api/v0/machines/')).body.machines[0].id * 1000 + 1}/`, {
            image: 'x',
            onstart: 'true',
            runtype: 'args',
          });
          assert.equal(c.status, 200, c.text);
          assert.equal(await mode(dataDir), '700');
          assert.equal(await mode(join(dataDir, 'instances')), '700');
          const files = (await readdir(dataDir)).filter((n) => n !== 'instances');
          for (const f of ['admin.key', 'server.secret', 'secrets.keys', 'host.token', 'host.key', 'url'])
            assert.ok(files.includes(f), `${f} in ${files.join(' ')}`);
          if (ts.name === 'sqlite') for (const f of ['gantry.db', 'gantry.db-wal', 'gantry.db-shm']) assert.ok(files.includes(f), f);
          // Folders Gantry adds beside instances (ssh host keys, volumes, snapshots) are owner-only too.
          for (const f of files) assert.equal(await mode(join(dataDir, f)), (await stat(join(dataDir, f))).isDirectory() ? '700' : '600', f);
        } finally {
          await g.dispose();
        }
      } finally {
        process.umask(old);
      }
    });
  });
}

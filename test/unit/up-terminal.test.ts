import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { banner, chooseLogFormat } from '../../src/cli/server-terminal.js';
import { DataDirLock, liveHolder, lockOf } from '../../src/main/data-dir-lock.js';
import { GantryError } from '../../src/domain/errors.js';

describe('gantry up: the terminal', () => {
  it('logs pretty on a terminal, JSON otherwise, and as --log-format says', () => {
    assert.equal(chooseLogFormat(undefined, true), 'pretty');
    assert.equal(chooseLogFormat(undefined, false), 'json');
    assert.equal(chooseLogFormat('json', true), 'json');
    assert.equal(chooseLogFormat('pretty', false), 'pretty');
    assert.throws(() => chooseLogFormat('yaml', true), /--log-format must be json or pretty, not 'yaml'/);
  });

  const facts = { url: 'http://127.0.0.1:7070', adminKeyFile: '/d/admin.key', dataDir: '/d', database: 'sqlite', hostLine: 'none' };
  it('shows the admin key in full only when it was created now, then where it is', () => {
    assert.match(banner({ ...facts, createdKey: 'gnt_abc', localHost: true }), /Admin key: gnt_abc +\(created now; shown only this once\)/);
    const later = banner({ ...facts, createdKey: null, localHost: true });
    assert.doesNotMatch(later, /gnt_/);
    assert.match(later, /Admin key: in \/d\/admin\.key \(`cat \/d\/admin\.key`\)/);
    // A key file whose key was revoked through the API (the caller's own, say) is no way in: said, not pointed to.
    const revoked = banner({ ...facts, createdKey: null, keySource: 'revoked', localHost: true });
    assert.match(revoked, /Admin key: the key in \/d\/admin\.key opens this database no more \(it was revoked\); start with GANTRY_ADMIN_KEY=/);
    assert.doesNotMatch(revoked, /Key file:/);
  });

  it('names no key file that was not written: a preset key, or a database whose admin another data dir made', () => {
    const preset = banner({ ...facts, createdKey: null, keySource: 'preset', localHost: true });
    assert.match(preset, /Admin key: the preset one \(setting adminKey, GANTRY_ADMIN_KEY\)/);
    assert.doesNotMatch(preset, /admin\.key/);
    const elsewhere = banner({ ...facts, createdKey: null, keySource: 'none', localHost: true });
    assert.match(elsewhere, /Admin key: not in this data dir .*--api-key or GANTRY_API_KEY/);
    assert.doesNotMatch(elsewhere, /admin\.key/);
  });

  it('suggests search offers for gantry up, create host-token for gantry server, and gantry down', () => {
    assert.match(banner({ ...facts, createdKey: null, localHost: true }), /Try: +npx gantry search offers/);
    const server = banner({ ...facts, createdKey: null, localHost: false });
    assert.match(server, /Try: +npx gantry create host-token/);
    assert.match(server, /npx gantry down --data-dir \/d/);
    // A data dir the CLI does not look in by itself is named in the command to try.
    assert.match(banner({ ...facts, createdKey: null, localHost: true, cliFindsDataDir: false }), /Try: +GANTRY_DATA_DIR=\/d npx gantry search offers/);
  });
});

describe('data dir lock', () => {
  it('is refused while a live process holds it, taken over once that process is gone, and removed on release', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-lock-unit-'));
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pid = holder.pid as number;
      await writeFile(join(dir, 'server.lock'), JSON.stringify({ pid, url: 'http://127.0.0.1:9', token: 't' }));
      assert.deepEqual(liveHolder(dir), { pid, url: 'http://127.0.0.1:9' });
      assert.throws(
        () => DataDirLock.acquire(dir),
        (e: unknown) => e instanceof GantryError && e.code === 'SERVER_RUNNING' && e.message.includes(`pid ${pid}, http://127.0.0.1:9`),
      );
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      assert.equal(liveHolder(dir), null, 'a dead holder is no holder');
      // One read tells both: a lock file is there (so the old url file is not trusted), and no one holds it.
      assert.deepEqual(lockOf(dir), { file: true, holder: null });
      const lock = DataDirLock.acquire(dir);
      lock.setUrl('http://127.0.0.1:7');
      assert.equal((await readFile(join(dir, 'url'), 'utf8')).trim(), 'http://127.0.0.1:7');
      assert.equal((JSON.parse(await readFile(join(dir, 'server.lock'), 'utf8')) as { pid: number }).pid, process.pid);
      lock.releaseSync();
      await assert.rejects(stat(join(dir, 'server.lock')));
      await assert.rejects(stat(join(dir, 'url')));
      assert.deepEqual(lockOf(dir), { file: false, holder: null });
      await writeFile(join(dir, 'server.lock'), 'not json');
      assert.deepEqual(lockOf(dir), { file: true, holder: null }, 'a lock file that does not parse is still a lock file');
    } finally {
      holder.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

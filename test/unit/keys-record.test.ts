import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forgetKeys, keysInPlace, recordKeys, SessionLedger } from '../../src/runtime/process/keys-record.js';

describe("a start's record of the SSH keys' file (keys-record.ts)", () => {
  const uid = process.getuid?.() ?? 0;
  let dir: string;
  let disk: string;
  let meta: string;
  const text = 'ssh-ed25519 AAAA one\n';
  const quiet = (): boolean => true;
  /** What a start's sandboxed write does: a new file put in place. */
  const write = async (t: string): Promise<void> => {
    await mkdir(join(disk, '.ssh'), { recursive: true, mode: 0o700 });
    await writeFile(join(disk, '.ssh', 'authorized_keys.tmp'), t, { mode: 0o600 });
    await rename(join(disk, '.ssh', 'authorized_keys.tmp'), join(disk, '.ssh', 'authorized_keys'));
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-keys-record-'));
    disk = join(dir, 'disk');
    meta = join(dir, 'meta');
    await mkdir(disk);
    await mkdir(meta);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('tells the very file a write left, for the same keys only', async () => {
    assert.equal(await keysInPlace(disk, meta, text, uid), false, 'no record yet');
    await write(text);
    await recordKeys(disk, meta, text, uid, quiet);
    assert.equal(await keysInPlace(disk, meta, text, uid), true);
    assert.equal(await keysInPlace(disk, meta, 'ssh-ed25519 AAAA two\n', uid), false, 'other keys');
    assert.equal(await keysInPlace(disk, meta, text, uid + 1), false, 'the file of another owner');
    // The record is written after the file, later by the clock of the file system.
    assert.ok(
      (await stat(join(meta, 'keys-written'), { bigint: true })).mtimeNs > (await stat(join(disk, '.ssh', 'authorized_keys'), { bigint: true })).ctimeNs,
    );
  });

  it('tells no file the tenant changed, replaced or removed, nor one behind a link, nor a forgotten record', async () => {
    const fresh = async (): Promise<void> => {
      await write(text);
      await recordKeys(disk, meta, text, uid, quiet);
      assert.equal(await keysInPlace(disk, meta, text, uid), true);
    };
    await fresh();
    await appendFile(join(disk, '.ssh', 'authorized_keys'), 'ssh-ed25519 AAAA tenant\n');
    assert.equal(await keysInPlace(disk, meta, text, uid), false, 'a line added');
    await fresh();
    await write(text);
    assert.equal(await keysInPlace(disk, meta, text, uid), false, 'the same text in another file');
    await fresh();
    await rm(join(disk, '.ssh', 'authorized_keys'));
    assert.equal(await keysInPlace(disk, meta, text, uid), false, 'removed');
    await fresh();
    await forgetKeys(meta);
    assert.equal(await keysInPlace(disk, meta, text, uid), false, 'forgotten');
    await fresh();
    await rename(join(disk, '.ssh'), join(disk, 'real'));
    await symlink('real', join(disk, '.ssh'));
    assert.equal(await keysInPlace(disk, meta, text, uid), false, '.ssh a link to the same folder');
    await recordKeys(disk, meta, text, uid, quiet);
    assert.equal(await readFile(join(meta, 'keys-written'), 'utf8').catch(() => null), null, 'nothing recorded through a link');
  });

  it('records nothing when a session of the tenant may have touched the file meanwhile', async () => {
    await write(text);
    await recordKeys(disk, meta, text, uid, () => false);
    assert.equal(await keysInPlace(disk, meta, text, uid), false);
  });
});

describe('the sessions a start asks about before it records (SessionLedger)', () => {
  it('is quiet only with no session open or begun since the mark; an end counts once', () => {
    const l = new SessionLedger();
    const mark = l.mark(1);
    assert.equal(l.quietSince(1, mark), true);
    const end = l.begin(1);
    assert.equal(l.quietSince(1, mark), false, 'open');
    end();
    end();
    assert.equal(l.quietSince(1, mark), false, 'began since the mark');
    assert.equal(l.quietSince(1, l.mark(1)), true, 'none open, none since');
    assert.equal(l.quietSince(2, l.mark(2)), true, 'another instance');
  });

  it('forgets a destroyed instance, once its last session ends', () => {
    const l = new SessionLedger();
    const end = l.begin(1);
    l.forget(1);
    assert.equal(l.mark(1), 1, 'kept while open');
    end();
    assert.equal(l.mark(1), 0, 'gone after');
  });
});

import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readRepository } from '../../src/control/catalog/repository.js';

/**
 * A git that stops answering (a repository on a hung disk) while an application syncs: stood in for by a
 * `git` first on PATH that answers the first questions and then hangs, deaf to SIGTERM.
 */
describe("an application's repository whose git hangs", () => {
  let dir: string;
  let path: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-git-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'repo'));
    const fake = join(dir, 'bin', 'git');
    await writeFile(
      fake,
      `#!/bin/sh
case "$*" in
  *--is-inside-work-tree*) echo true; echo .git ;;
  *--verify*) echo 0123456789abcdef0123456789abcdef01234567 ;;
  *) trap '' TERM; sleep 30 ;;
esac
`,
    );
    await chmod(fake, 0o755);
    path = process.env.PATH;
    process.env.PATH = `${join(dir, 'bin')}:${path ?? ''}`;
  });
  after(async () => {
    process.env.PATH = path;
    await rm(dir, { recursive: true, force: true });
  });

  it('fails the sync with REPOSITORY_UNREADABLE once gitTimeoutMs passed, saying git did not answer', { timeout: 15_000 }, async () => {
    await assert.rejects(readRepository(join(dir, 'repo'), '', 'HEAD', 1_000), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'REPOSITORY_UNREADABLE');
      assert.match(err.message, /git did not answer within 1s/);
      return true;
    });
  });

  it('is not read as a plain folder when git does not answer whether it is a repository', { timeout: 15_000 }, async () => {
    const fake = join(dir, 'bin', 'git');
    await writeFile(fake, "#!/bin/sh\ntrap '' TERM; sleep 30\n");
    await assert.rejects(readRepository(join(dir, 'repo'), '', 'HEAD', 1_000), { code: 'REPOSITORY_UNREADABLE', message: /git did not answer within 1s/ });
  });
});

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GantryError } from '../../domain/errors.js';
import type { BlobStore } from '../blob-store.js';

/** `<account id>/<file hash>`: nothing a key names can leave the directory. */
const KEY = /^[0-9]{1,15}\/[A-Za-z0-9_-]{1,128}$/;

function pathOf(dir: string, key: string): string {
  if (!KEY.test(key)) throw new GantryError('INVALID_ARGUMENT', `Not a blob key: ${JSON.stringify(key.slice(0, 160))}.`, { field: 'key' });
  return join(dir, key);
}

const sizeMismatch = (expected: number, got: string): GantryError =>
  new GantryError('UPLOAD_SIZE_MISMATCH', `The file holds ${got} bytes, but the deployment declared file_size ${expected}; nothing was stored.`, {
    expected,
  });

/**
 * Blobs as files under one directory (default `<dataDir>/blobs`). A put writes `tmp/<random>`,
 * syncs it and renames it into place, so a crash or a refused upload leaves no partial blob under
 * its key (stray temp files are only ever in `tmp/`, and housekeeping removes them: pruneTemp).
 */
export class FsBlobStore implements BlobStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(pathOf(this.#dir, key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async put(key: string, data: AsyncIterable<Uint8Array>, expectedBytes: number): Promise<void> {
    const final = pathOf(this.#dir, key);
    const tmp = join(this.#dir, 'tmp', `${randomBytes(12).toString('hex')}.part`);
    await mkdir(dirname(tmp), { recursive: true });
    const fh = await open(tmp, 'wx', 0o600);
    let written = 0;
    try {
      for await (const chunk of data) {
        written += chunk.byteLength;
        // Refused as soon as it overflows: a wrong size never costs more disk than the declared one.
        if (written > expectedBytes) throw sizeMismatch(expectedBytes, `more than ${expectedBytes}`);
        await fh.write(chunk);
      }
      if (written !== expectedBytes) throw sizeMismatch(expectedBytes, String(written));
      await fh.sync();
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    try {
      await mkdir(dirname(final), { recursive: true });
      await rename(tmp, final);
      // The rename is durable only once its folder is, and an account's first blob made that folder, whose own
      // entry is durable once the store's folder is: the database names the blob right after this answers.
      for (const dir of [dirname(final), this.#dir]) {
        const folder = await open(dir, 'r');
        await folder.sync().finally(() => folder.close());
      }
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new GantryError('BLOB_STORE_UNAVAILABLE', `The blob store could not keep the upload: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  async read(key: string): Promise<{ size: number; chunks: AsyncIterable<Uint8Array> }> {
    const path = pathOf(this.#dir, key);
    const size = await this.size(key);
    if (size === null) throw new GantryError('BLOB_STORE_UNAVAILABLE', `The stored code ${key} is missing from the blob store.`, { key });
    return { size, chunks: createReadStream(path) };
  }

  async delete(key: string): Promise<void> {
    await unlink(pathOf(this.#dir, key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async pruneTemp(ageMs: number): Promise<number> {
    const tmp = join(this.#dir, 'tmp');
    const names = await readdir(tmp).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    // Against the file system's clock, which wrote the times: not the control plane's (a test's may be moved).
    const before = Date.now() - ageMs;
    let removed = 0;
    for (const name of names.filter((n) => n.endsWith('.part'))) {
      const file = join(tmp, name);
      const st = await stat(file).catch(() => null);
      if (st === null || !st.isFile() || st.mtimeMs >= before) continue;
      await unlink(file).then(
        () => removed++,
        () => undefined, // gone meanwhile: its put ended
      );
    }
    return removed;
  }
}

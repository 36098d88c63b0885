import { GantryError } from '../domain/errors.js';

/**
 * The blob store port: whole files by key, for code deployments' uploaded code (decision 020). A
 * key is `<account id>/<file hash>`, so one account's same code is stored once. A `put` is all or
 * nothing: readers never see a half-written blob, and a failed put leaves nothing behind.
 */
export interface BlobStore {
  /** The size in bytes of the blob under `key`; null when there is none. */
  size(key: string): Promise<number | null>;
  /**
   * Store exactly `expectedBytes` bytes read from `data` under `key` (replacing one that is there).
   * UPLOAD_SIZE_MISMATCH, with nothing stored, when `data` holds more or fewer; an error `data`
   * throws is thrown again, with nothing stored either.
   */
  put(key: string, data: AsyncIterable<Uint8Array>, expectedBytes: number): Promise<void>;
  /** The blob's bytes as they are read; BLOB_STORE_UNAVAILABLE when it is gone. */
  read(key: string): Promise<{ readonly size: number; readonly chunks: AsyncIterable<Uint8Array> }>;
  /** Remove the blob; nothing when there is none. */
  delete(key: string): Promise<void>;
  /**
   * Remove what puts cut short by a crash (kill -9, power) left behind: they never reach their key, and nothing
   * else would remove them. Only what was last written `ageMs` or longer ago, so a put under way (here or at
   * another replica sharing the store) is kept. How many were removed.
   */
  pruneTemp(ageMs: number): Promise<number>;
}

const unavailable = (): never => {
  throw new GantryError('BLOB_STORE_UNAVAILABLE', 'This server keeps no blobs: code deployments need a blob store (setting codeBlobDir).');
};

/** What a control plane without a blob store has (tests that need none): every call is BLOB_STORE_UNAVAILABLE. */
export const NO_BLOBS: BlobStore = {
  size: () => Promise.resolve(unavailable()),
  put: () => Promise.resolve(unavailable()),
  read: () => Promise.resolve(unavailable()),
  delete: () => Promise.resolve(unavailable()),
  // Housekeeping asks every store: one that keeps nothing has nothing left over.
  pruneTemp: () => Promise.resolve(0),
};

import { readText } from '../sdk/text-file.js';
import { join } from 'node:path';
import { cliEnv } from '../config/load.js';
import { GantryClient } from '../sdk/client.js';
import { lockOf } from '../main/data-dir-lock.js';

export interface GlobalFlags {
  url?: string;
  apiKey?: string;
  raw?: boolean;
}

/** The URL of the server that runs on a data dir: never one whose process is gone (its lock is stale). */
function serverUrl(dataDir: string): string | null {
  const { file, holder } = lockOf(dataDir);
  if (!file) return readText(join(dataDir, 'url')); // written by a server before the lock
  return holder === null ? null : (holder.url ?? readText(join(dataDir, 'url')));
}

/** Where the CLI sends requests and with which key, and where each came from (error messages name it). */
export interface Connection {
  readonly url: string;
  readonly apiKey: string | null;
  /** `--api-key`, `GANTRY_API_KEY`, the key file's path, or null when no key was found. */
  readonly keySource: string | null;
  /** The admin key file `gantry up` writes in its data dir. */
  readonly keyFile: string;
}

/** URL and key: flags, then GANTRY_URL / GANTRY_API_KEY, then the files `gantry up` wrote in its data dir. */
export function connectionOf(flags: GlobalFlags): Connection {
  const env = cliEnv();
  const url = flags.url ?? env.url ?? serverUrl(env.dataDir) ?? 'http://127.0.0.1:7070';
  const keyFile = join(env.dataDir, 'admin.key');
  const apiKey = flags.apiKey ?? env.apiKey ?? readText(keyFile);
  const keySource = flags.apiKey !== undefined ? '--api-key' : env.apiKey !== null ? 'GANTRY_API_KEY' : apiKey !== null ? keyFile : null;
  return { url, apiKey, keySource, keyFile };
}

/**
 * The client `gantry down --workloads` calls the server of a data dir with: that server's URL (from
 * its lock), and a key from --api-key, else the data dir's own admin key, else GANTRY_API_KEY. The
 * data dir's key comes before the environment's: down acts on the server the data dir names, as its
 * admin, and GANTRY_API_KEY is often an everyday user's key.
 */
export function dataDirConnection(dataDir: string, url: string, flags: GlobalFlags): Connection {
  const keyFile = join(dataDir, 'admin.key');
  const fromFile = readText(keyFile);
  const env = cliEnv();
  const apiKey = flags.apiKey ?? fromFile ?? env.apiKey;
  const keySource = flags.apiKey !== undefined ? '--api-key' : fromFile !== null ? keyFile : env.apiKey !== null ? 'GANTRY_API_KEY' : null;
  return { url, apiKey, keySource, keyFile };
}

export function connect(flags: GlobalFlags): GantryClient {
  const c = connectionOf(flags);
  return new GantryClient({ url: c.url, apiKey: c.apiKey });
}

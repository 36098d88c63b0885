import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv } from '../config/load.js';
import { GantryClient } from '../sdk/client.js';
import { hasLockFile, liveHolder } from '../main/data-dir-lock.js';

export interface GlobalFlags {
  url?: string;
  apiKey?: string;
  raw?: boolean;
}

function readText(file: string): string | null {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t === '' ? null : t;
  } catch {
    return null;
  }
}

/** The URL of the server that runs on a data dir: never one whose process is gone (its lock is stale). */
function serverUrl(dataDir: string): string | null {
  if (!hasLockFile(dataDir)) return readText(join(dataDir, 'url')); // written by a server before the lock
  const h = liveHolder(dataDir);
  return h === null ? null : (h.url ?? readText(join(dataDir, 'url')));
}

/** URL and key: flags, then GANTRY_URL / GANTRY_API_KEY, then the files `gantry up` wrote in its data dir. */
export function connect(flags: GlobalFlags): GantryClient {
  const env = cliEnv();
  const url = flags.url ?? env.url ?? serverUrl(env.dataDir) ?? 'http://127.0.0.1:7070';
  const apiKey = flags.apiKey ?? env.apiKey ?? readText(join(env.dataDir, 'admin.key'));
  return new GantryClient({ url, apiKey });
}

import { readText } from '../text-file.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What the deployments SDK reads from its environment (the one file of src/sdk/code that does):
 * where Gantry is and with which key, as the CLI finds them (GANTRY_URL, GANTRY_API_KEY, then the
 * files `gantry up` writes in its data dir), and whether this process is a worker serving the app.
 */
export const SERVE_FLAG = 'GANTRY_CODE_SERVE';

function dataDir(env: NodeJS.ProcessEnv): string {
  if (env.GANTRY_DATA_DIR !== undefined && env.GANTRY_DATA_DIR !== '') return env.GANTRY_DATA_DIR;
  const base = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'gantry');
}

export function defaultConnection(env: NodeJS.ProcessEnv = process.env): { url: string; apiKey: string | null } {
  const dir = dataDir(env);
  const url = (env.GANTRY_URL !== undefined && env.GANTRY_URL !== '' ? env.GANTRY_URL : null) ?? readText(join(dir, 'url')) ?? 'http://127.0.0.1:7070';
  const apiKey = (env.GANTRY_API_KEY !== undefined && env.GANTRY_API_KEY !== '' ? env.GANTRY_API_KEY : null) ?? readText(join(dir, 'admin.key'));
  return { url, apiKey };
}

/** On a worker, the bootstrap sets the flag before it imports the entry: `Deployment` then registers instead of deploying. */
export function serving(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[SERVE_FLAG] === '1';
}

/** The worker's environment as the engine gave it (the bootstrap's reads). */
export function workerEnv(): NodeJS.ProcessEnv {
  return process.env;
}

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../domain/errors.js';
import { envName, SETTINGS, type Config, type Setting, type SettingKey } from './schema.js';

/** Parse '10s', '500ms', '2m', '1h' or a plain number of ms. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v) : null;
  if (!m) throw new GantryError('INVALID_ARGUMENT', `'${String(v)}' is not a duration (use e.g. 500ms, 10s, 2m).`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms'] ?? 1;
  return Math.round(n * unit);
}

function coerce(key: string, s: Setting, v: unknown): string | number | boolean | null {
  const fail = (what: string): never => {
    throw new GantryError('INVALID_ARGUMENT', `Setting ${key} needs ${what}, got ${JSON.stringify(v)}.`, { setting: key });
  };
  const n = typed(s, v, fail);
  if (typeof n === 'number' && ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)))
    fail(s.max === undefined ? `at least ${String(s.min)}` : `a value from ${String(s.min ?? 0)} to ${s.max}`);
  return n;
}

function typed(s: Setting, v: unknown, fail: (what: string) => never): string | number | boolean | null {
  switch (s.type) {
    case 'string':
      return typeof v === 'string' ? v : fail('a string');
    case 'optional-string':
      return v === null || v === '' ? null : typeof v === 'string' ? v : fail('a string');
    case 'integer': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : fail('a non-negative integer');
    }
    case 'number': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : fail('a non-negative number');
    }
    case 'duration':
      try {
        return parseDuration(v);
      } catch {
        return fail('a duration such as 10s');
      }
    case 'boolean':
      return v === true || v === 'true' || v === '1' ? true : v === false || v === 'false' || v === '0' ? false : fail('true or false');
  }
}

export interface LoadSources {
  /** Values from command-line flags, keyed by setting name. */
  readonly flags?: Partial<Record<SettingKey, unknown>>;
  /** A JSON config file (unknown keys are an error). */
  readonly file?: string | null;
  /** Environment to read GANTRY_* from; the only place process.env is consulted. */
  readonly env?: NodeJS.ProcessEnv;
}

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'gantry');
}

/** flags > GANTRY_* environment > config file > defaults; validated once and frozen. */
export function loadConfig(src: LoadSources = {}): Config {
  const env = src.env ?? process.env;
  let fileValues: Record<string, unknown> = {};
  const file = src.file ?? env.GANTRY_CONFIG ?? null;
  if (file !== null && file !== '') {
    fileValues = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const k of Object.keys(fileValues)) {
      if (!(k in SETTINGS)) throw new GantryError('INVALID_ARGUMENT', `Unknown setting '${k}' in ${file}.`, { setting: k });
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
    const fromFlag = src.flags?.[key];
    const fromEnv = env[envName(key)];
    const raw = fromFlag !== undefined ? fromFlag : fromEnv !== undefined ? fromEnv : key in fileValues ? fileValues[key] : s.default;
    out[key] = coerce(key, s, raw);
  }
  if (out.dataDir === '') out.dataDir = defaultDataDir(env);
  if (out.dockerHost === null && env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '') out.dockerHost = env.DOCKER_HOST;
  if (!['auto', 'docker', 'process'].includes(out.runtime as string))
    throw new GantryError('INVALID_ARGUMENT', `runtime must be auto, docker or process, not '${String(out.runtime)}'.`);
  if (!['auto', 'bwrap', 'off'].includes(out.processSandbox as string))
    throw new GantryError('INVALID_ARGUMENT', `processSandbox must be auto, bwrap or off, not '${String(out.processSandbox)}'.`, { setting: 'processSandbox' });
  if (!['full', 'normal'].includes(out.sqliteSynchronous as string))
    throw new GantryError('INVALID_ARGUMENT', `sqliteSynchronous must be full or normal, not '${String(out.sqliteSynchronous)}'.`, {
      setting: 'sqliteSynchronous',
    });
  if (!['loopback', 'key', 'open'].includes(out.metricsAccess as string))
    throw new GantryError('INVALID_ARGUMENT', `metricsAccess must be loopback, key or open, not '${String(out.metricsAccess)}'.`, { setting: 'metricsAccess' });
  if ((out.portRangeEnd as number) < (out.portRangeStart as number))
    throw new GantryError('INVALID_ARGUMENT', 'portRangeEnd must not be below portRangeStart.');
  checkShapes(out);
  return Object.freeze(out) as Config;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Settings whose text has a shape: refused at start, by name, rather than failing later or elsewhere. */
function checkShapes(out: Record<string, unknown>): void {
  const bad = (setting: string, what: string): never => {
    throw new GantryError('INVALID_ARGUMENT', `Setting ${setting} needs ${what}, got ${JSON.stringify(out[setting])}.`, { setting });
  };
  if (!LOG_LEVELS.includes(out.logLevel as string)) bad('logLevel', `one of ${LOG_LEVELS.join(', ')}`);
  const db = out.database as string | null;
  // A URL of any other database (or `file:`, `sqlite:`) is refused, not taken for the name of a SQLite file in the
  // working directory; a scheme is two characters or more, so a Windows drive letter is still a path.
  if (db !== null && /^[a-z][a-z0-9+.-]+:/i.test(db) && !/^postgres(ql)?:\/\/./.test(db)) bad('database', 'a postgres:// URL or a SQLite file path');
  const url = out.publicUrl as string | null;
  if (url !== null && !isHttpUrl(url)) bad('publicUrl', 'an http:// or https:// URL');
}

export function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The API key the CLI uses: flag, then GANTRY_API_KEY, then nothing (the caller reads the key file). */
export function cliEnv(env: NodeJS.ProcessEnv = process.env): { apiKey: string | null; url: string | null; dataDir: string } {
  const key = env.GANTRY_API_KEY;
  const url = env.GANTRY_URL;
  return {
    apiKey: key !== undefined && key !== '' ? key : null,
    url: url !== undefined && url !== '' ? url : null,
    dataDir: env.GANTRY_DATA_DIR !== undefined && env.GANTRY_DATA_DIR !== '' ? env.GANTRY_DATA_DIR : defaultDataDir(env),
  };
}

/** Whether this process was started by `npx` / `npm exec` (npm sets npm_command in its children's environment). */
export function startedByNpmExec(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.npm_command === 'exec';
}

/** The part of Gantry's own environment a workload inherits: enough to find programs, nothing secret. */
export function workloadBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { LANG: 'C.UTF-8' };
  for (const k of ['PATH', 'TZ', 'LD_LIBRARY_PATH']) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  out.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return out;
}

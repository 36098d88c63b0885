import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VAST_CLI_DIR } from './vast-clients.js';

/**
 * Vast's deployments SDK as the tests run it: unchanged (the snapshot in ../shared/reference/vast-cli),
 * with Debian's python3 and its packages. Debian names pycryptodome `Cryptodome`; the SDK imports
 * `Crypto` (test/fixtures/vast/pyalias gives it that name when needed).
 */
export const PYTHON = '/usr/bin/python3';
const FIXTURES = join(fileURLToPath(new URL('../../../', import.meta.url)), 'test', 'fixtures', 'vast');
const ALIAS = join(FIXTURES, 'pyalias');
/** Stand-ins for what the worker bootstrap and library take from Python 3.12 and aiohttp 3.9 (debian12/sitecustomize.py; each acts only where missing). */
const DEBIAN12 = join(FIXTURES, 'debian12');

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

function has(code: string, pythonPath?: string): boolean {
  try {
    execFileSync(PYTHON, ['-c', code], {
      stdio: 'ignore',
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...(pythonPath !== undefined ? { PYTHONPATH: pythonPath } : {}) },
    });
    return true;
  } catch {
    return false;
  }
}

/** Where the SDK (and, when Debian's names differ, the alias) is found. */
export const SDK_PYTHONPATH = has('import Crypto') ? VAST_CLI_DIR : `${VAST_CLI_DIR}:${ALIAS}`;
/** The same for a worker's bootstrap, with the stand-ins first. */
export const WORKER_PYTHONPATH = `${DEBIAN12}:${SDK_PYTHONPATH}`;

/** Why the SDK cannot run here (.ci/run installs what it needs), or false. */
export function sdkMissing(): string | false {
  if (!has('import aiohttp, requests, typing_extensions')) return `${PYTHON} or its aiohttp, requests or typing_extensions is missing`;
  if (!has('import anyio, psutil, Cryptodome')) return `${PYTHON} lacks Debian's python3-anyio, -psutil or -pycryptodome, which the SDK's package imports`;
  if (!has('from vastai import AsyncClient; assert AsyncClient is not None', SDK_PYTHONPATH)) return `the deployments SDK does not import from ${VAST_CLI_DIR}`;
  return false;
}

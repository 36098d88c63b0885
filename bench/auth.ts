import { join } from 'node:path';
import { loadConfig, workloadBaseEnv } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { startGantry } from '../src/main/up.js';
import { load, throughputTable, type ThroughputRow } from './serverless.js';

/**
 * API throughput with authentication and rate limiting on vs off, side by side in one run (32 callers,
 * closed loop, same process and machine): an unauthenticated route as the baseline (the HTTP stack
 * alone), then an authenticated read with limits off, then the same read with limits on at a rate
 * no caller reaches (so every request pays for the bucket but none is refused).
 */
export async function authBench(dir: string): Promise<ThroughputRow[]> {
  const variants: [name: string, path: string, rateLimit: number, auth: boolean][] = [
    ['GET /api/v0/gpu_names/unique: no key, no limits (baseline)', '/api/v0/gpu_names/unique/', 0, false],
    ['GET /api/v0/users/current: key checked, no limits', '/api/v0/users/current/', 0, true],
    ['GET /api/v0/users/current: key checked, rate limit on', '/api/v0/users/current/', 1_000_000, true],
  ];
  const rows: ThroughputRow[] = [];
  let base: number | null = null;
  for (const [i, [name, path, rateLimit, auth]] of variants.entries()) {
    const config = loadConfig({
      env: {},
      flags: { dataDir: join(dir, `auth-${i}`), port: 0, database: ':memory:', gpus: '1x RTX 4090:24GB', logLevel: 'silent', rateLimit },
    });
    const g = await startGantry({ config, workloadEnv: workloadBaseEnv(), localHost: true, log: createLogger('silent') });
    try {
      const r = await load(g.url, path, auth ? { authorization: `Bearer ${g.adminKey ?? ''}` } : {});
      base ??= r.perS;
      rows.push({ bench: 'API throughput', variant: name, requests: r.n, reqPerS: r.perS, p50Ms: r.p50, p99Ms: r.p99, ratioReqPerS: r.perS / base });
    } finally {
      await g.close();
    }
  }
  return rows;
}

export function printAuth(rows: readonly ThroughputRow[]): void {
  process.stdout.write(throughputTable(rows));
}

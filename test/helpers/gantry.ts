import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, workloadBaseEnv } from '../../src/config/load.js';
import type { Clock } from '../../src/control/clock.js';
import type { SettingKey } from '../../src/config/schema.js';
import type { ApiDialect } from '../../src/api/edge/dialect.js';
import { createLogger } from '../../src/log/logger.js';
import { startGantry, type RunningGantry } from '../../src/main/up.js';
import { reservePortBlock } from './ports.js';
import type { TestStore } from './stores.js';

export interface TestGantry extends RunningGantry {
  readonly dataDir: string;
  /** The PostgreSQL URL this instance uses (null: SQLite in dataDir), to start it again on the same data. */
  readonly database: string | null;
  /** JSON over real HTTP; returns status, headers and parsed body. */
  api(
    method: string,
    path: string,
    body?: unknown,
    o?: { key?: string | null; rawBody?: string; contentType?: string; headers?: Readonly<Record<string, string>> },
  ): Promise<ApiResponse>;
  /** Poll GET /instances/{id}/ until `pred` holds. */
  waitInstance(id: number, pred: (row: Record<string, unknown>) => boolean, timeoutMs?: number, key?: string): Promise<Record<string, unknown>>;
  /** Close, remove every workload this test started, and delete the data dir. */
  dispose(): Promise<void>;
}

export interface ApiResponse {
  readonly status: number;
  readonly contentType: string | null;
  readonly headers: Headers;
  readonly body: any;
  readonly text: string;
}

/** Timings shrunk for tests; every one of them is a setting, not a special case. */
export const FAST: Partial<Record<SettingKey, unknown>> = {
  stopGraceMs: 1500,
  killWaitMs: 2000,
  // Polling is the safety net (a change wakes the loops at once): faster polling would only cost CPU, which
  // every test shares on two cores.
  observeIntervalMs: 250,
  reconcileIdleMs: 250,
  leaseMs: 3000,
  sweepIntervalMs: 500,
  heartbeatIntervalMs: 500,
  billingIntervalMs: 200,
  // Tests poll faster than any person; the rate-limit tests turn limits on themselves.
  rateLimit: 0,
  // The process sandbox is tested on its own (test/system/process-sandbox.test.ts); elsewhere workloads run
  // unsandboxed and the host takes every account's instances, as before.
  processSandbox: 'off',
  unsafeSharedProcessRuntime: true,
};

export async function startTestGantry(
  store: TestStore,
  o: {
    gpus?: string;
    settings?: Partial<Record<SettingKey, unknown>>;
    dataDir?: string;
    database?: string | null;
    localHost?: boolean;
    /** The control plane's "now" (a ManualClock lets a test move time); the system clock by default. */
    clock?: Clock;
    /** Added to the environment every workload starts from. */
    workloadEnv?: Readonly<Record<string, string>>;
    /** Dialects to serve besides the built-in ones. */
    dialects?: readonly ApiDialect[];
  } = {},
): Promise<TestGantry> {
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'gantry-test-')));
  const database = o.database !== undefined ? o.database : store.name === 'sqlite' ? null : await store.fresh(dataDir);
  // Instance ports of its own: never another test gantry's (ports.ts).
  const ports = reservePortBlock();
  const portBase = ports.start;
  const config = loadConfig({
    env: {},
    flags: {
      dataDir,
      port: 0,
      database,
      gpus: o.gpus ?? '2x RTX 4090:24GB',
      runtime: 'process',
      logLevel: 'silent',
      portRangeStart: portBase,
      portRangeEnd: portBase + 99,
      ...FAST,
      // The test run's (scripts/run-tests.mjs): the environment is not read here (env above), so it is given as a setting.
      ...(process.env.GANTRY_SQLITE_SYNCHRONOUS !== undefined ? { sqliteSynchronous: process.env.GANTRY_SQLITE_SYNCHRONOUS } : {}),
      ...o.settings,
    },
  });
  const g = await startGantry({
    config,
    workloadEnv: { ...workloadBaseEnv(), ...o.workloadEnv },
    localHost: o.localHost ?? true,
    clock: o.clock,
    ...(o.dialects !== undefined ? { dialects: o.dialects } : {}),
    log: createLogger(process.env.GANTRY_TEST_LOG ?? 'silent'),
  });
  const api: TestGantry['api'] = async (method, path, body, opt = {}) => {
    const key = opt.key === undefined ? g.adminKey : opt.key;
    const headers: Record<string, string> = { ...opt.headers };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const payload = opt.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined) headers['content-type'] = opt.contentType ?? 'application/json';
    const res = await fetch(g.url + path, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, body: parsed, text };
  };
  const waitInstance: TestGantry['waitInstance'] = async (id, pred, timeoutMs = 60_000, key) => {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      const r = await api('GET', `/api/v0/instances/${id}/`, undefined, key !== undefined ? { key } : {});
      if (r.status === 200) {
        last = r.body.instances as Record<string, unknown>;
        if (pred(last)) return last;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `instance ${id} did not reach the wanted state; last: ${JSON.stringify({ actual: last.actual_status, gantry: last.gantry_status, msg: last.status_msg })}`,
    );
  };
  return {
    ...g,
    dataDir,
    database,
    api,
    waitInstance,
    async dispose() {
      await g.close();
      if (g.runtime) for (const id of await g.runtime.list()) await g.runtime.destroy(id, { graceMs: 500 });
      await rm(dataDir, { recursive: true, force: true });
      ports.release();
    },
  };
}

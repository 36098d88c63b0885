import { mkdir, rm } from 'node:fs/promises';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/helpers/browser.js';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ResourceRow } from './fleet.js';
import { callApi, pair, procSample, spawnGantry, textTable, until, type LatencyRow } from './util.js';

/**
 * The web console (issue 19), against a spawned `gantry up` (process runtime, its own local host):
 *  - first load in Chromium (playwright-core driving Debian's chromium, a fresh context each time: no
 *    cache): bytes transferred (every response's body and headers as sent) and the time until the page
 *    is usable, beside a minimal document from the same server (`/healthz`: the navigation's own cost)
 *    and the API's reference page (`/docs`, Swagger UI) loaded the same way in the same run;
 *  - the push channel: the server's CPU (from /proc) over a window while instances change at a steady
 *    rate, with STREAMS open `GET /console/api/events` streams beside the same window with none, and
 *    the events the streams were delivered.
 */
const LOADS = 8;
const STREAMS = 100;
/** Keys the streams are spread over (10 streams each, within the default per-key bound of 16). */
const KEYS = 10;
const WINDOW_S = 5;
const CHANGES_PER_S = 4;
const INSTANCES = 4;
const KEY = 'gnt_bench_console_admin_key';

export interface BytesRow {
  readonly load: string;
  readonly requests: number;
  readonly bytes: number;
  readonly ratio: number;
}

export interface ConsoleResults {
  readonly rows: LatencyRow[];
  readonly bytes: BytesRow[];
  readonly resources: ResourceRow[];
  readonly events: number;
}

/** One cold load in a fresh context: the time until `ready` holds, and what came over the wire by then. */
async function coldLoad(browser: Browser, url: string, ready: (p: Page) => Promise<unknown>, after?: (p: Page) => Promise<unknown>) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const sizes: Promise<number>[] = [];
  page.on('requestfinished', (r) => sizes.push(r.sizes().then((s) => s.responseBodySize + s.responseHeadersSize)));
  try {
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit' });
    await ready(page);
    const ms = performance.now() - t0;
    const count = sizes.length;
    const bytes = (await Promise.all(sizes.slice(0, count))).reduce((a, b) => a + b, 0);
    let afterMs: number | null = null;
    let afterBytes = 0;
    if (after !== undefined) {
      const t1 = performance.now();
      await after(page);
      afterMs = performance.now() - t1;
      afterBytes = (await Promise.all(sizes.slice(count))).reduce((a, b) => a + b, 0);
    }
    return { ms, bytes, requests: count, afterMs, afterBytes, afterRequests: sizes.length - count };
  } finally {
    await context.close();
  }
}

const LOAD = 'console first load → usable (Chromium, cold)';
const BASE = 'GET /healthz, a minimal document (baseline)';

async function firstLoads(browser: Browser, url: string): Promise<{ rows: LatencyRow[]; bytes: BytesRow[] }> {
  const blank: number[] = [];
  const docs: number[] = [];
  const login: number[] = [];
  const data: number[] = [];
  const b = { blank: [0, 0], docs: [0, 0], console: [0, 0], after: [0, 0] };
  const keep = (slot: number[], bytes: number, requests: number): void => {
    slot[0] = bytes;
    slot[1] = requests;
  };
  for (let i = 0; i < LOADS; i++) {
    const h = await coldLoad(browser, `${url}/healthz`, (p) => p.waitForLoadState('load'));
    blank.push(h.ms);
    keep(b.blank, h.bytes, h.requests);
    const d = await coldLoad(browser, `${url}/docs`, (p) => p.locator('.swagger-ui .info').first().waitFor());
    docs.push(d.ms);
    keep(b.docs, d.bytes, d.requests);
    const c = await coldLoad(
      browser,
      `${url}/console/`,
      async (p) => {
        // Usable: the key field is on screen and takes input (the bundle ran and rendered the form).
        const key = p.getByLabel('API key');
        await key.waitFor();
        if (!(await key.isEditable())) throw new Error('bench console: the login form is not editable');
      },
      async (p) => {
        await p.getByLabel('API key').fill(KEY);
        await p.getByRole('button', { name: 'Log in' }).click();
        await p.getByRole('navigation', { name: 'Console pages' }).waitFor();
        // The first page shows its data once its heading is there and nothing in it is loading any more.
        // Locators, not waitForFunction: that evaluates a string in the page, which the console's CSP (no 'unsafe-eval') refuses.
        await p.locator('main h1').first().waitFor({ state: 'attached', timeout: 20_000 });
        await p.locator('main progress').first().waitFor({ state: 'detached', timeout: 20_000 });
      },
    );
    login.push(c.ms);
    data.push(c.afterMs ?? NaN);
    keep(b.console, c.bytes, c.requests);
    keep(b.after, c.afterBytes, c.afterRequests);
  }
  const bytesRow = (load: string, [bytes = 0, requests = 0]: number[]): BytesRow => ({ load, requests, bytes, ratio: bytes / (b.docs[0] || 1) });
  return {
    rows: [
      ...pair(LOAD, [BASE, blank], ['GET /docs until Swagger UI shows the API', docs]),
      ...pair(LOAD, [BASE, blank], ['GET /console/ until the login form is usable', login]).slice(1),
      ...pair(LOAD, [BASE, blank], ['log in → the first page shows its data', data]).slice(1),
    ],
    bytes: [
      bytesRow('GET /healthz, a minimal document', b.blank),
      bytesRow('GET /docs, Swagger UI (peer)', b.docs),
      bytesRow('GET /console/ → login form', b.console),
      bytesRow('console: log in → first page with data', b.after),
    ],
  };
}

/** One event stream per key given (a console each); counts the events (blank-line separated) they are delivered. */
function openStreams(url: string, keys: readonly string[]): { count: () => number; ready: Promise<void>; close: () => void } {
  const abort = new AbortController();
  let events = 0;
  const opened = keys.map(async (key) => {
    const res = await fetch(`${url}/console/api/events`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: abort.signal });
    if (!res.ok || res.body === null) throw new Error(`GET /console/api/events: HTTP ${res.status} ${await res.text()}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buf += decoder.decode(value, { stream: true });
          const parts = buf.split('\n\n');
          buf = parts.pop() ?? '';
          events += parts.filter((e) => /^data:/m.test(e) && !/^event: hello$/m.test(e)).length;
        }
      } catch {
        // aborted at the end of the window
      }
    })();
  });
  return { count: () => events, ready: Promise.all(opened).then(() => undefined), close: () => abort.abort() };
}

async function pushCost(url: string, pid: number): Promise<{ resources: ResourceRow[]; events: number }> {
  const api = (method: string, path: string, body?: unknown): Promise<any> => callApi(url, KEY, method, path, body);
  const ids: number[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const c = await api('PUT', `/api/v0/asks/${(await api('GET', '/api/v0/machines/')).machines[0].id * 1000 + 1}/`, {
      image: 'none',
      onstart: 'sleep 3600',
      runtype: 'ssh',
    });
    ids.push(c.new_contract as number);
  }
  await until(async () => {
    const rows = (await api('GET', '/api/v0/instances/')).instances as { actual_status: string }[];
    return rows.filter((r) => r.actual_status === 'running').length === INSTANCES;
  }, 60_000);
  // Each instance is stopped and started again in turn, one change every 1/CHANGES_PER_S s over all of
  // them: what the push channel tells of (intent and status changes), at a steady rate in both windows.
  let changes = 0;
  let running = true;
  // A fixed schedule, no polling (it would cost the server as much as the streams): a process stops in
  // milliseconds, well within the second before its next change; a change refused meanwhile is not counted.
  const cycle = async (id: number, offsetMs: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, offsetMs));
    const periodMs = (INSTANCES * 1000) / CHANGES_PER_S;
    for (let state = 'stopped'; running; state = state === 'stopped' ? 'running' : 'stopped') {
      const t = Date.now();
      if (
        await api('PUT', `/api/v0/instances/${id}/`, { state }).then(
          () => true,
          () => false,
        )
      )
        changes++;
      await new Promise((r) => setTimeout(r, Math.max(0, periodMs - (Date.now() - t))));
    }
  };
  const drivers = ids.map((id, i) => cycle(id, (i * 1000) / CHANGES_PER_S));
  const windowRow = async (variant: string): Promise<ResourceRow> => {
    const before = await procSample(pid);
    const c0 = changes;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const after = await procSample(pid);
    const seconds = (performance.now() - t0) / 1000;
    return {
      bench: `push channel: ${INSTANCES} instances stopped and started, ${CHANGES_PER_S} changes/s in all`,
      variant: `${variant}, ${((changes - c0) / seconds).toFixed(1)} changes/s`,
      seconds,
      cpuPercent: ((after.cpuS - before.cpuS) / seconds) * 100,
      rssMb: after.rssMb,
      requestsPerS: (changes - c0) / seconds,
      p50Ms: null,
      p99Ms: null,
    };
  };
  try {
    await new Promise((r) => setTimeout(r, 1000)); // the change rate settles
    // The server bounds the streams one key holds (a browser tab each): the consoles use KEYS keys of the account.
    const keys: string[] = [];
    for (let i = 0; i < KEYS; i++) keys.push(((await api('POST', '/api/v0/auth/apikeys/', { name: `console-${i}` })) as { key: string }).key);
    const quiet = await windowRow('no event streams (baseline)');
    const ac = new AbortController();
    const probe = await fetch(`${url}/console/api/events`, { headers: { authorization: `Bearer ${KEY}` }, signal: ac.signal });
    ac.abort();
    if (probe.status === 404) {
      process.stdout.write('push channel: GET /console/api/events is not served; only the baseline window was measured\n');
      return { resources: [quiet], events: 0 };
    }
    const s = openStreams(
      url,
      Array.from({ length: STREAMS }, (_, i) => keys[i % KEYS] as string),
    );
    await s.ready;
    await new Promise((r) => setTimeout(r, 1000));
    const at = s.count();
    const open = await windowRow(`${STREAMS} open GET /console/api/events streams`);
    const events = s.count() - at;
    s.close();
    return { resources: [quiet, { ...open, variant: `${open.variant} (${events} events delivered)` }], events };
  } finally {
    running = false;
    await Promise.all(drivers).catch(() => undefined);
    // Workloads outlive the server (they are adopted on restart): end them before it goes.
    for (const id of ids) await api('DELETE', `/api/v0/instances/${id}/`).catch(() => undefined);
    await until(async () => ((await api('GET', '/api/v0/instances/')).instances as unknown[]).length === 0, 30_000).catch(() => undefined);
  }
}

export async function consoleBench(dir: string): Promise<ConsoleResults> {
  const data = join(dir, 'console');
  await mkdir(data, { recursive: true });
  const port = 18000 + Math.floor(Math.random() * 2000);
  const url = `http://127.0.0.1:${port}`;
  const server = await spawnGantry(['up', '--port', String(port), '--data-dir', data, '--gpus', '8x RTX 4090:24GB', '--runtime', 'process'], {
    GANTRY_ADMIN_KEY: KEY,
    GANTRY_RATE_LIMIT: '0',
    // 100 streams and the browser come from one address.
    GANTRY_MAX_CONNECTIONS_PER_ADDRESS: '0',
    GANTRY_PROCESS_SANDBOX: 'off',
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const loads = await firstLoads(browser, url);
    await browser.close();
    const push = await pushCost(url, server.pid as number);
    return { rows: loads.rows, bytes: loads.bytes, resources: push.resources, events: push.events };
  } finally {
    await browser.close().catch(() => undefined);
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
    await rm(data, { recursive: true, force: true });
  }
}

export function bytesTable(rows: readonly BytesRow[]): string {
  const kb = (n: number): string => (n / 1024).toFixed(1);
  return textTable(
    ['console first load: bytes transferred', 'requests', 'KiB', 'ratio to /docs'],
    rows.map((r) => [r.load, String(r.requests), kb(r.bytes), `${r.ratio.toFixed(1)}x`]),
  );
}

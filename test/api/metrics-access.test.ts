import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * GET /metrics names accounts' endpoints and the machine's load: by default (metricsAccess
 * "loopback") a caller on another machine needs an admin API key; "key" asks every caller for one;
 * "open" none. The test gantries listen on loopback, so a remote caller is made with inject's
 * remoteAddress (the socket's address is what counts, never a forwarded-for header).
 */
const REMOTE = '203.0.113.9';
const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');

async function scrape(g: TestGantry, o: { remote: boolean; key?: string; headers?: Record<string, string> }) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key !== undefined) headers.authorization = `Bearer ${o.key}`;
  const res = await g.app.inject({ method: 'GET', url: '/metrics', headers, remoteAddress: o.remote ? REMOTE : '127.0.0.1' });
  return {
    status: res.statusCode,
    text: res.body,
    body: (() => {
      try {
        return JSON.parse(res.body) as Record<string, any>;
      } catch {
        return null;
      }
    })(),
  };
}

describe('who may read /metrics', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  const started: TestGantry[] = [];
  const start = async (metricsAccess?: string) => {
    const g = await startTestGantry(sqlite!, { localHost: false, settings: metricsAccess === undefined ? {} : { metricsAccess } });
    started.push(g);
    const user = (await g.api('POST', '/api/v0/users/', { username: 'carol', credit: 1 })).body as { api_key: string };
    return { g, userKey: user.api_key };
  };
  let byDefault: Awaited<ReturnType<typeof start>>;
  before(async () => {
    byDefault = await start();
  });
  after(async () => {
    for (const g of started) await g.dispose();
  });

  it('by default: open on loopback (over real HTTP too), refused from elsewhere without an admin key', async () => {
    const { g, userKey } = byDefault;
    const local = await fetch(`${g.url}/metrics`);
    assert.equal(local.status, 200);
    assert.match(await local.text(), /gantry_http_requests_total|# HELP/);
    assert.equal((await scrape(g, { remote: false })).status, 200);
    const anonymous = await scrape(g, { remote: true });
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.doesNotMatch(anonymous.text, /# HELP/);
    // A forwarded-for header naming loopback changes nothing: the socket's address counts.
    assert.equal((await scrape(g, { remote: true, headers: { 'x-forwarded-for': '127.0.0.1' } })).status, 401);
    assert.equal((await scrape(g, { remote: true, key: 'not-a-key' })).status, 401);
    const user = await scrape(g, { remote: true, key: userKey });
    assert.equal(user.status, 403, user.text);
    assert.match(user.text, /ADMIN_ONLY/);
    const admin = await scrape(g, { remote: true, key: g.adminKey as string });
    assert.equal(admin.status, 200, admin.text);
    assert.match(admin.text, /# HELP/);
  });

  it('by default, a loopback caller that names another host (a rebound DNS name) or comes through a local reverse proxy is asked for an admin key', async () => {
    const { g, userKey } = byDefault;
    const port = new URL(g.url).port;
    for (const host of [`localhost:${port}`, 'localhost', 'LOCALHOST.', `metrics.localhost:${port}`, `127.0.0.1:${port}`, '127.9.8.7', `[::1]:${port}`])
      assert.equal((await scrape(g, { remote: false, headers: { host } })).status, 200, host);
    for (const host of [
      `attacker.example:${port}`,
      'attacker.example',
      `localhost.attacker.example:${port}`,
      '10.0.0.5',
      '[::2]:80',
      '127.0.0.1.nip.io',
      '[::1]attacker.example',
      '[::1]:80@attacker',
    ]) {
      const r = await scrape(g, { remote: false, headers: { host } });
      assert.equal(r.status, 401, `${host}: ${r.text}`);
      assert.doesNotMatch(r.text, /# HELP/);
    }
    // Over real HTTP, as a browser on a rebound name would send it.
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(`${g.url}/metrics`, { headers: { host: `attacker.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject).end();
    });
    assert.equal(rebound, 401);
    // A reverse proxy on this machine that rewrites Host to the address it proxies to (nginx's default) still says
    // it forwarded the request.
    for (const fwd of <Record<string, string>[]>[
      { 'x-forwarded-for': '203.0.113.9' },
      { via: '1.1 caddy' },
      { forwarded: 'for=203.0.113.9' },
      { 'x-real-ip': '203.0.113.9' },
    ])
      assert.equal((await scrape(g, { remote: false, headers: { host: `127.0.0.1:${port}`, ...fwd } })).status, 401, JSON.stringify(fwd));
    assert.equal((await scrape(g, { remote: false, key: userKey, headers: { host: 'attacker.example' } })).status, 403);
    assert.equal((await scrape(g, { remote: false, key: g.adminKey as string, headers: { host: 'attacker.example' } })).status, 200);
  });

  it('"key": an admin key is asked of every caller, on loopback too', async () => {
    const { g, userKey } = await start('key');
    const local = await fetch(`${g.url}/metrics`);
    assert.equal(local.status, 401);
    assert.equal((await scrape(g, { remote: false })).status, 401);
    assert.equal((await scrape(g, { remote: false, key: userKey })).status, 403);
    const viaHttp = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${g.adminKey as string}` } });
    assert.equal(viaHttp.status, 200);
    assert.equal((await scrape(g, { remote: true, key: g.adminKey as string })).status, 200);
  });

  it('"open": anyone, from anywhere', async () => {
    const { g } = await start('open');
    assert.equal((await scrape(g, { remote: true })).status, 200);
  });

  it('another value is refused when the settings load', () => {
    assert.throws(() => loadConfig({ env: {}, flags: { metricsAccess: 'public' } }), /metricsAccess must be loopback, key or open/);
  });
});

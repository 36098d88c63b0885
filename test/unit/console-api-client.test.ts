import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';

/** The error bodies of each dialect, as the servers send them, and the message the console must show. */
const SHAPES: readonly { name: string; status: number; body: unknown; message: string }[] = [
  {
    name: 'vast',
    status: 400,
    body: { success: false, error: 'invalid_args', msg: 'disk must be a number', code: 'INVALID_ARGUMENT' },
    message: 'disk must be a number',
  },
  { name: 'console', status: 429, body: { error: { code: 'CONSOLE_STREAMS_LIMIT', message: 'too many streams', status: 429 } }, message: 'too many streams' },
  { name: 'aicore', status: 404, body: { error: { code: '404', message: 'Deployment d1 not found', requestId: 'r' } }, message: 'Deployment d1 not found' },
  {
    name: 'elastic',
    status: 404,
    body: { error: { type: 'resource_not_found_exception', reason: 'No model [m]', root_cause: [] }, status: 404 },
    message: 'No model [m]',
  },
  { name: 'vast refusal with 200', status: 200, body: { success: false, error: 'no_offer', msg: 'offer 9 is gone' }, message: 'offer 9 is gone' },
];

/**
 * The console's fetch client (web/src/api.ts, bundled for Node as esbuild bundles it for the browser):
 * an error answer becomes an ApiError carrying the API's own message, whichever dialect's shape it has,
 * and the key travels as a bearer header.
 */
describe("the console's API client", () => {
  let server: Server;
  let dir: string;
  let client: { api: (m: string, p: string, o?: { key?: string }) => Promise<unknown>; ApiError: new (...a: any[]) => Error };
  let seenAuth: string | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-web-api-'));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const out = await build({ entryPoints: [join(root, 'web', 'src', 'api.ts')], bundle: true, format: 'esm', platform: 'neutral', write: false });
    await writeFile(join(dir, 'api.mjs'), out.outputFiles[0]!.text);
    server = createServer((req, res) => {
      seenAuth = req.headers.authorization;
      const shape = SHAPES.find((s) => req.url === `/${encodeURIComponent(s.name)}`);
      if (shape === undefined) return void res.writeHead(500, { 'content-type': 'text/plain' }).end('plain failure');
      res.writeHead(shape.status, { 'content-type': 'application/json' }).end(JSON.stringify(shape.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The browser resolves the console's paths against its origin; Node's fetch needs the whole URL.
    const realFetch = globalThis.fetch;
    globalThis.fetch = ((url: string, init?: RequestInit) => realFetch(base + url, init)) as typeof fetch;
    client = await import(pathToFileURL(join(dir, 'api.mjs')).href);
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const s of SHAPES)
    it(`shows the API's message from ${s.name}'s error body`, async () => {
      await assert.rejects(client.api('GET', `/${encodeURIComponent(s.name)}`, { key: 'k1' }), (err: any) => {
        assert.ok(err instanceof client.ApiError);
        const e = err as unknown as { message: string; status: number };
        assert.equal(e.message, s.message);
        assert.equal(e.status, s.status);
        return true;
      });
      assert.equal(seenAuth, 'Bearer k1');
    });

  it('shows a plain-text error as it came', async () => {
    await assert.rejects(client.api('GET', '/other'), /plain failure/);
  });
});

import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, sep } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The content type of each kind of file the console's build writes. */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** A file name under the console's folder: plain segments only, so no `..`, no absolute path, no encoded tricks. */
const SAFE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** `dist/web` of this package, found upwards from this file (dist/src/api/edge/ when built). */
export function defaultConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');
}

/**
 * What the console's page may load, and who may frame it. The build (scripts/build-web.mjs) writes one
 * module script and one stylesheet, both files of this origin, no inline script or style element
 * (preact and uPlot set styles through the CSSOM, which `style-src` does not govern), system fonts
 * only, and `data:` only for the empty favicon. The page talks to this origin alone (`fetch`, the
 * event stream read with fetch). No framing (clickjacking a Destroy button), and no Referer: the
 * hash path names resources.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers of every console response: its pages here, its API's answers (plugin.ts). */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

const MISSING = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gantry console not built</title></head>
<body><main><h1>The Gantry console is not built</h1><p>This server has no <code>dist/web</code> folder. Run <code>npm run build</code>
(or <code>npm install</code>) in Gantry's folder, then reload this page. The API works without it.</p></main></body></html>`;

/**
 * The web console's files at `/console/` (GET and HEAD; fastify answers HEAD from the GET route).
 * Outside the key model: the files are the same for everyone, and the page asks for a key before it
 * calls the API. `index.html` is revalidated on every load (`no-cache`) so an upgrade shows at once;
 * the build names the other files in it with a content hash query, so they may be cached long.
 * A server without the build answers 503 with a page saying how to build it.
 */
export function registerConsoleStatic(app: FastifyInstance, root: string): void {
  const send = async (reply: FastifyReply, name: string): Promise<FastifyReply> => {
    void reply.headers(CONSOLE_SECURITY_HEADERS);
    if (!existsSync(join(root, 'index.html'))) return reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(MISSING);
    const path = join(root, name);
    if (!SAFE.test(name) || !path.startsWith(root + sep)) return reply.code(404).type('text/plain; charset=utf-8').send('Not found.');
    const info = await stat(path).catch(() => null);
    if (info === null || !info.isFile()) return reply.code(404).type('text/plain; charset=utf-8').send('Not found.');
    const type = TYPES[extname(name)] ?? 'application/octet-stream';
    void reply.header('cache-control', name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable');
    return reply.type(type).send(await readFile(path));
  };
  const schema = { summary: 'The web console (static files; the page asks for an API key)' };
  app.get('/console/', { schema }, async (_req, reply) => send(reply, 'index.html'));
  app.get<{ Params: { '*': string } }>('/console/*', { schema }, async (req, reply) => {
    const name = req.params['*'];
    // The console's API is a dialect of its own: a path under it that no route serves is its 404.
    if (name.startsWith('api/') || name === 'api') return reply.callNotFound();
    return send(reply, name === '' ? 'index.html' : name);
  });
}
